"""The platform's content catalog, and the jobs over it.

A platform that opts in keeps one small item per piece of content it holds
(`items`), in sharded Parquet (`store`): from uploads as the matcher sees
them, and from a backfill of stored media (`backfill`). When the list grows,
reverse matching finds every catalogued item that a new listed hash matches
under the one match rule (`reverse`), shard by shard, in this process or on
a Ray cluster (`runner`). The matcher queues those hits for review.

Layering: `hashing` <- `index` <- `catalog` <- `matcher`; this package
knows nothing of the matcher's store, queue or config.
"""

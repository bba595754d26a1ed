// The desk's only script (an ES module, served by the desk itself). Pages
// work without it; it adds conveniences that individual pages opt into.

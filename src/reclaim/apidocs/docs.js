// Starts Swagger UI on the page's schema (an external file: the apps' CSP
// allows no inline script). No validator badge: it would call another site.
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapi,
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
});

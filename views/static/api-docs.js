// The API reference page (/docs): Swagger UI, served from the binary, reading the
// daemon's own /v1/openapi.json. A file of its own, not an inline script, so the
// page keeps the UI's Content-Security-Policy (script-src 'self').
(function () {
  "use strict";
  window.addEventListener("DOMContentLoaded", function () {
    window.SwaggerUIBundle({
      url: "/v1/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      // No badge fetched from validator.swagger.io: the page asks nothing of another host.
      validatorUrl: null,
      docExpansion: "list",
      defaultModelsExpandDepth: 0,
      displayOperationId: true,
      filter: true,
    });
  });
})();

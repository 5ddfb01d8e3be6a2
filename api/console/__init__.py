"""The operator console: web pages over the API's read model, served at ``/console`` by the API itself."""

"""The AsyncAPI documents of the services' events (``docs/asyncapi/``), built from the code."""

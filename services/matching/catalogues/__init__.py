"""The catalogues of the offer shipped with the service, one JSON file per département."""

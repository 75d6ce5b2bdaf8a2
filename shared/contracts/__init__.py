"""The public contracts: event payloads, topics and vocabularies."""

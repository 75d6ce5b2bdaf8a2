"""The local stack: runs the four services as processes and plays the demo scenario."""

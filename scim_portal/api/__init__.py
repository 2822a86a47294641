"""The management REST API: the vendor's backend automates connections."""

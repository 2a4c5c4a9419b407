"""OpenHCS processing of OMERO plates and datasets (see docs/plugins/openhcs.md)."""

"""Synadia Cloud's control-plane API: typed models and a client, for the cloud and its twin."""

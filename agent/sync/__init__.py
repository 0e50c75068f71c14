"""The engines: inventory, inbound feed, outbound sender, request drops and the links manager."""

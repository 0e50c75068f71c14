"""The running agent: the service, its folder lock and the installers."""

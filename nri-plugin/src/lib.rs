//! Container runtime integration: NRI protocol and plugin lifecycle, OCI hook state parsing.

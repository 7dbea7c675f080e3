"""`ruview tune`: replay a recording's raw CSI through the firmware core with candidate
settings and propose the NVS keys that best separate what the user labelled."""

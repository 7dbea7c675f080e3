"""ruview: provision, discover, update and watch fleets of ESP32-S3 WiFi-sensing nodes."""

__version__ = "0.1.0.dev0"

"""Pinpoint: guides installers through networking EV charging stations."""

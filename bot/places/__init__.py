"""Places: address candidates near a GPS fix (`finder`), the pin checks (`pins`), request
spacing (`spacing`), the geocoder cache (`cache`), and the operators' probe (`cli`)."""

from bot.places.cache import GeocodeCache
from bot.places.candidates import Candidate, GeocoderError
from bot.places.finder import AddressFinder, GeoSettings
from bot.places.pins import PinCheck, accuracy_ok, check_pin, distance_m, format_distance

__all__ = ["AddressFinder", "Candidate", "GeoSettings", "GeocodeCache", "GeocoderError",
           "PinCheck", "accuracy_ok", "check_pin", "distance_m", "format_distance"]

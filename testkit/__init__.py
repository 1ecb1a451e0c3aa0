"""The test kit: a Bot API emulator, fake geocoder and webhook servers, synthetic photos.

Used by the tests, the sandbox and the benchmarks; the bot itself never imports it."""

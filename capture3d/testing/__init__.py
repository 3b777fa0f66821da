"""Test and benchmark helpers: a simulated Spinnaker SDK, a synthetic live stream, baseline viewers and
PAF renderers. Nothing in the production import graph imports this package.
"""

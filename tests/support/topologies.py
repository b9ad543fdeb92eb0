"""A small CDN for tests on 127.0.0.1: a shield and four edges on three continents."""

TOPOLOGY = """
origin = "http://127.0.0.1:1"

[[pop]]
name = "shield"
tier = "shield"
lat = 50.11
lon = 8.68

[[pop]]
name = "paris"
lat = 48.86
lon = 2.35
parent = "shield"

[[pop]]
name = "london"
lat = 51.51
lon = -0.13
parent = "shield"

[[pop]]
name = "new-york"
lat = 40.71
lon = -74.01
parent = "shield"

[[pop]]
name = "tokyo"
lat = 35.68
lon = 139.69
parent = "shield"
"""

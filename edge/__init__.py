"""Footfall edge: camera frames in, floor-plan aggregates out (no pixels, boxes or track ids)."""

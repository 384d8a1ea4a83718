"""`invoke bench`: the original benchmark's load, measured the way a performance engineer reads it."""

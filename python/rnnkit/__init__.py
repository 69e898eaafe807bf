"""rnnkit: recurrent networks with a fast C++ core."""

// Threads of the core. The core splits its work itself: the time loop by samples (each
// thread runs the whole sequence for its share of the batch) and the large matrix products
// before and after the loop by rows or columns. Each piece runs single-threaded BLAS and
// joins once at the end, with no barrier per time step, so a busy machine slows a call
// down in proportion instead of stalling it. The pieces run on workers started once, which
// spin for up to half a millisecond after a call, then sleep (threads.cpp says why). Default:
// the machine's hardware threads.
#pragma once

namespace rnnkit {

void set_num_threads(int threads);
int num_threads();

}  // namespace rnnkit

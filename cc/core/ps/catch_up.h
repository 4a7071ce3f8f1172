#pragma once
// Catching rows up on the optimizer steps they missed while they sat in a parameter server.
//
// With update type Global every step updates every row of the table, hit or not (a zero gradient
// for the rows not in the batch). Under model oversubscription a row outside the working table
// misses those steps; replaying them (the same UpdateRow with a null gradient, with the learning
// rate of each missed step) before the row is used again gives bit for bit the row the whole
// table would hold (EMBEDDING_SEMANTICS.md, "Optimizers").

#include <cstdint>

#include "cc/core/embedding/optimizer.h"
#include "cc/core/embedding/parallel.h"

namespace hugectr_tf {

// Replays the zero-gradient steps last_step[i] + 1 .. step of every row i and sets last_step[i]
// to step. Rows of optimizers whose zero step changes nothing (SGD, Adagrad) only get the new
// last_step. Throws when a last_step lies outside [0, step].
void CatchUpRows(const OptimizerOptions& opt, int64_t n, int64_t vec,
                 float* rows,                            // (n, vec)
                 float* slots,                           // (n, NumOptimizerSlots(opt.type), vec)
                 int64_t* last_step,                     // (n)
                 int64_t step, const float* lr_history,  // (step): learning rate of step t at t-1
                 const ParallelFor& parallel_for);

}  // namespace hugectr_tf

//! The cost model end to end: the real `apuntador-cost` binary (the user's question, flags, the
//! assumptions file, `--help`, bad input, the report and the chart), the chart rendered to PNG, the
//! model defaults against the stacks' example tfvars, and the measured inputs (item sizes and log
//! bytes) against the real store and log formatter.

mod binary;
mod docs;
mod measured;
mod png;
mod tfvars;

//! The real `apuntador-cost` binary on the committed sample measurements
//! (`benches/data/sample-measurements.json`): the SVG chart parses back with one line per option and
//! the break-evens marked, the Markdown table carries the library's numbers, and bad input exits 2.

mod binary;

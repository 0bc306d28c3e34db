//! Analysis of scans.

//! Hostile input, second round (issue #21): console.

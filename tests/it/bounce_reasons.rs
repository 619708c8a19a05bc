//! Bounce reasons (issue #22): the taxonomy on the reason fixtures, and the circuit breaker.

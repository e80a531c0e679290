//! Guest memory accessors through the p2m.

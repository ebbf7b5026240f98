//! marquee-movielens

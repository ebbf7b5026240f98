//! marquee-recs

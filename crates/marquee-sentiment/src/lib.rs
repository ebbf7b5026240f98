//! marquee-sentiment

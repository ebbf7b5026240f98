//! marquee-domain

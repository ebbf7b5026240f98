//! A small, hand-written polarity lexicon used as a prior.
//!
//! The trained classifier learns how much to trust these entries (they enter
//! the model as ordinary features such as "a positive lexicon word, not
//! negated"), so the lexicon mostly helps on text unlike the training tweets:
//! reviews, other brands, emoji (the TweetEval training tweets contain none).
//!
//! Values are in `-2..=2`: `±1` for ordinary words, `±2` for strong ones.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

/// FNV-1a: fast for short keys; the maps are never iterated.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

const POSITIVE: &[&str] = &[
    "good",
    "nice",
    "fine",
    "great",
    "happy",
    "glad",
    "love",
    "loved",
    "loves",
    "loving",
    "like",
    "liked",
    "likes",
    "enjoy",
    "enjoyed",
    "enjoying",
    "enjoyable",
    "fun",
    "funny",
    "cool",
    "beautiful",
    "pretty",
    "lovely",
    "cute",
    "sweet",
    "best",
    "better",
    "win",
    "won",
    "winning",
    "winner",
    "wins",
    "excited",
    "exciting",
    "thanks",
    "thank",
    "thankful",
    "grateful",
    "proud",
    "congrats",
    "congratulations",
    "hope",
    "hopefully",
    "hopeful",
    "ready",
    "yay",
    "yes",
    "wow",
    "well",
    "welcome",
    "interesting",
    "interested",
    "favorite",
    "favourite",
    "fav",
    "perfect",
    "recommend",
    "recommended",
    "worth",
    "worthy",
    "smart",
    "clever",
    "brilliant",
    "solid",
    "strong",
    "impressive",
    "impressed",
    "positive",
    "success",
    "successful",
    "support",
    "supportive",
    "helpful",
    "useful",
    "easy",
    "safe",
    "comfortable",
    "clean",
    "fresh",
    "friendly",
    "kind",
    "honest",
    "polite",
    "fair",
    "quality",
    "reliable",
    "fast",
    "quick",
    "smooth",
    "works",
    "working",
    "satisfied",
    "satisfying",
    "pleased",
    "pleasant",
    "pleasure",
    "enjoys",
    "appreciate",
    "appreciated",
    "celebrate",
    "celebrating",
    "blessed",
    "lucky",
    "peace",
    "calm",
    "relaxing",
    "relaxed",
    "free",
    "bonus",
    "gift",
    "awards",
    "award",
    "champion",
    "champions",
    "victory",
    "hero",
    "heroes",
    "legend",
    "laugh",
    "laughing",
    "lol",
    "lmao",
    "haha",
    "hahaha",
    "smile",
    "smiling",
    "hug",
    "hugs",
    "kiss",
    "xoxo",
    "cheers",
    "merry",
    "joy",
    "joyful",
    "delight",
    "delighted",
    "delightful",
    "glorious",
    "charming",
    "elegant",
    "gorgeous",
    "handsome",
    "stunning",
    "tasty",
    "delicious",
    "yummy",
    "fantastic",
    "awesome",
    "amazing",
    "excellent",
    "wonderful",
    "incredible",
    "outstanding",
    "superb",
    "terrific",
    "fabulous",
    "marvelous",
    "marvellous",
    "magnificent",
    "phenomenal",
    "epic",
    "masterpiece",
    "flawless",
    "exceptional",
    "spectacular",
    "breathtaking",
    "beloved",
    "adore",
    "adored",
    "adorable",
    "perfection",
    "thrilled",
    "ecstatic",
    "overjoyed",
    "blast",
    "loveit",
    "goat",
    "dope",
    "lit",
    "rocks",
    "rock",
    "killer",
    "genius",
    "inspiring",
    "inspired",
    "inspiration",
    "heartwarming",
    "touching",
    "uplifting",
    "refreshing",
    "gem",
    "highly",
    "must-see",
    "mustsee",
    "enjoyably",
    "nicely",
    "beautifully",
    "wonderfully",
    "happily",
    "gladly",
    "luckily",
    "fortunately",
    "fortunate",
    "improved",
    "improvement",
    "upgrade",
    "bargain",
    "affordable",
    "generous",
    "reasonable",
    "accurate",
    "gentle",
    "durable",
    "sturdy",
    "efficient",
    "responsive",
    "intuitive",
    "convenient",
    "valuable",
    "wins",
    "favorable",
    "promising",
    "superior",
    "ideal",
    "top",
    "correct",
    "right",
    "okay",
    "ok",
    "alright",
    "sure",
    "agreed",
    "agree",
    "wise",
    "creative",
    "talented",
    "gifted",
];

const STRONG_POSITIVE: &[&str] = &[
    "love",
    "loved",
    "awesome",
    "amazing",
    "excellent",
    "wonderful",
    "fantastic",
    "best",
    "perfect",
    "incredible",
    "outstanding",
    "superb",
    "brilliant",
    "masterpiece",
    "flawless",
    "adore",
    "thrilled",
    "ecstatic",
    "phenomenal",
    "spectacular",
    "exceptional",
    "magnificent",
];

const NEGATIVE: &[&str] = &[
    "bad",
    "worse",
    "worst",
    "terrible",
    "horrible",
    "awful",
    "hate",
    "hated",
    "hates",
    "hating",
    "sad",
    "sadly",
    "unhappy",
    "angry",
    "mad",
    "upset",
    "annoyed",
    "annoying",
    "annoys",
    "disappointed",
    "disappointing",
    "disappointment",
    "disappoints",
    "fail",
    "failed",
    "fails",
    "failing",
    "failure",
    "lose",
    "lost",
    "loses",
    "losing",
    "loser",
    "sucks",
    "suck",
    "sucked",
    "sucky",
    "crap",
    "crappy",
    "shit",
    "shitty",
    "damn",
    "dammit",
    "wtf",
    "ugh",
    "ugly",
    "stupid",
    "dumb",
    "idiot",
    "idiots",
    "idiotic",
    "moron",
    "pathetic",
    "poor",
    "poorly",
    "boring",
    "bored",
    "dull",
    "tired",
    "sick",
    "ill",
    "pain",
    "painful",
    "hurt",
    "hurts",
    "hurting",
    "cry",
    "crying",
    "cried",
    "tears",
    "miss",
    "missed",
    "missing",
    "sorry",
    "unfortunately",
    "unfortunate",
    "problem",
    "problems",
    "issue",
    "issues",
    "wrong",
    "broken",
    "broke",
    "break",
    "breaks",
    "bug",
    "bugs",
    "buggy",
    "crash",
    "crashed",
    "crashes",
    "slow",
    "expensive",
    "overpriced",
    "waste",
    "wasted",
    "wasting",
    "useless",
    "worthless",
    "pointless",
    "mess",
    "messy",
    "dirty",
    "rude",
    "cheap",
    "fake",
    "liar",
    "lies",
    "lie",
    "lying",
    "scam",
    "fraud",
    "corrupt",
    "evil",
    "cruel",
    "nasty",
    "gross",
    "disgusting",
    "disgusted",
    "disgrace",
    "shame",
    "shameful",
    "ashamed",
    "embarrassing",
    "embarrassed",
    "ridiculous",
    "absurd",
    "insane",
    "crazy",
    "worried",
    "worry",
    "worrying",
    "afraid",
    "scared",
    "scary",
    "fear",
    "fears",
    "terrified",
    "terrifying",
    "nervous",
    "anxious",
    "stress",
    "stressed",
    "stressful",
    "depressed",
    "depressing",
    "depression",
    "lonely",
    "alone",
    "hopeless",
    "helpless",
    "horrible",
    "horrific",
    "tragic",
    "tragedy",
    "disaster",
    "disastrous",
    "catastrophe",
    "dead",
    "death",
    "die",
    "died",
    "dies",
    "dying",
    "kill",
    "killed",
    "kills",
    "murder",
    "attack",
    "attacks",
    "attacked",
    "war",
    "violence",
    "violent",
    "abuse",
    "victim",
    "victims",
    "threat",
    "threats",
    "danger",
    "dangerous",
    "risk",
    "risky",
    "damage",
    "damaged",
    "destroy",
    "destroyed",
    "ruin",
    "ruined",
    "ruins",
    "weak",
    "weakness",
    "lame",
    "meh",
    "mediocre",
    "bland",
    "flawed",
    "flaw",
    "flaws",
    "defective",
    "faulty",
    "unreliable",
    "uncomfortable",
    "complaint",
    "complain",
    "complaining",
    "refund",
    "returned",
    "unacceptable",
    "inferior",
    "sloppy",
    "clumsy",
    "confusing",
    "confused",
    "frustrating",
    "frustrated",
    "frustration",
    "irritating",
    "irritated",
    "outrage",
    "outraged",
    "outrageous",
    "furious",
    "hostile",
    "offensive",
    "insult",
    "insulting",
    "racist",
    "sexist",
    "hell",
    "sigh",
    "smh",
    "fml",
    "noo",
    "nooo",
    "boo",
    "booo",
    "yuck",
    "eww",
    "ew",
    "blah",
    "fuck",
    "fucking",
    "fucked",
    "bitch",
    "bullshit",
    "screw",
    "screwed",
    "sucker",
    "dislike",
    "disliked",
    "regret",
    "regrets",
    "regretted",
    "avoid",
    "unfair",
    "unhelpful",
    "careless",
    "lazy",
    "late",
    "delayed",
    "delay",
    "cancelled",
    "canceled",
    "cancel",
    "shut",
    "banned",
    "ban",
    "fired",
    "injured",
    "injury",
    "accident",
    "bankrupt",
    "crisis",
    "scandal",
    "protest",
    "riot",
    "against",
    "terrorist",
    "terrorism",
    "hatred",
    "jealous",
    "bitter",
    "grumpy",
    "miserable",
    "misery",
    "suffer",
    "suffering",
    "suffered",
    "unbearable",
    "incompetent",
    "garbage",
    "trash",
    "rubbish",
    "junk",
    "stinks",
    "stink",
    "horrid",
    "dreadful",
    "atrocious",
    "abysmal",
    "appalling",
    "unwatchable",
    "overrated",
    "poorest",
    "wost",
    "pissed",
    "sucks",
    "hideous",
    "tedious",
    "predictable",
    "forgettable",
    "cringe",
    // Streaming and app complaints (what a streaming service's customers
    // write about; rare in the training tweets).
    "buffering",
    "buffers",
    "froze",
    "frozen",
    "freezes",
    "crashing",
    "lag",
    "laggy",
    "lagging",
    "glitch",
    "glitches",
    "glitchy",
    "stuck",
    "pixelated",
    "stutter",
    "stutters",
    "stuttering",
    "unusable",
    "unresponsive",
    "outage",
    "unsubscribe",
    "unsubscribed",
    "cancelling",
    "canceling",
];

const STRONG_NEGATIVE: &[&str] = &[
    "worst",
    "terrible",
    "horrible",
    "awful",
    "hate",
    "hated",
    "disgusting",
    "pathetic",
    "useless",
    "worthless",
    "atrocious",
    "abysmal",
    "appalling",
    "dreadful",
    "garbage",
    "unwatchable",
    "unacceptable",
    "disaster",
    "fuck",
    "fucking",
    "bullshit",
    "sucks",
];

/// Words that open a negation scope.
const NEGATORS: &[&str] = &[
    "not",
    "no",
    "never",
    "nothing",
    "nobody",
    "none",
    "nowhere",
    "neither",
    "nor",
    "cannot",
    "cant",
    "can't",
    "dont",
    "don't",
    "doesnt",
    "doesn't",
    "didnt",
    "didn't",
    "isnt",
    "isn't",
    "wasnt",
    "wasn't",
    "arent",
    "aren't",
    "werent",
    "weren't",
    "wont",
    "won't",
    "wouldnt",
    "wouldn't",
    "shouldnt",
    "shouldn't",
    "couldnt",
    "couldn't",
    "havent",
    "haven't",
    "hasnt",
    "hasn't",
    "hadnt",
    "hadn't",
    "aint",
    "ain't",
    "without",
    "hardly",
    "barely",
    "lack",
    "lacks",
    "lacking",
    "mustn't",
    "mustnt",
    "needn't",
    "neednt",
    "nope",
    "nah",
];

/// ASCII emoticons with their polarity (matched case-sensitively on a whole
/// whitespace-delimited chunk, or as its suffix).
pub(crate) const EMOTICONS: &[(&str, i8)] = &[
    (":)", 1),
    (":-)", 1),
    (":]", 1),
    ("=)", 1),
    (":))", 1),
    (":)))", 1),
    (";)", 1),
    (";-)", 1),
    (":D", 2),
    (":-D", 2),
    ("=D", 2),
    ("xD", 1),
    ("XD", 1),
    (":P", 1),
    (":p", 1),
    (":-P", 1),
    (":-p", 1),
    (";P", 1),
    (";p", 1),
    ("<3", 2),
    ("<33", 2),
    ("<333", 2),
    ("^_^", 1),
    ("^^", 1),
    (":3", 1),
    (":*", 1),
    (":-*", 1),
    ("(:", 1),
    ("(-:", 1),
    (":(", -1),
    (":-(", -1),
    (":((", -1),
    (":[", -1),
    ("=(", -1),
    (":'(", -2),
    (":'-(", -2),
    (";(", -1),
    ("D:", -1),
    (":/", -1),
    (":-/", -1),
    (":\\", -1),
    (":|", -1),
    (":-|", -1),
    (":S", -1),
    (":s", -1),
    ("-_-", -1),
    ("-.-", -1),
    ("</3", -2),
    (">:(", -2),
    ("):", -1),
    (":@", -2),
    (":O", 0),
    (":o", 0),
];

/// Emoji (by code point) with their polarity. The training tweets carry none,
/// so these are mapped onto the same tokens as the ASCII emoticons.
const EMOJI: &[(u32, i8)] = &[
    // faces, positive
    (0x1F600, 1),
    (0x1F601, 1),
    (0x1F602, 1),
    (0x1F603, 1),
    (0x1F604, 1),
    (0x1F605, 1),
    (0x1F606, 1),
    (0x1F607, 1),
    (0x1F609, 1),
    (0x1F60A, 1),
    (0x1F60B, 1),
    (0x1F60C, 1),
    (0x1F60D, 2),
    (0x1F60E, 1),
    (0x1F617, 1),
    (0x1F618, 2),
    (0x1F619, 1),
    (0x1F61A, 1),
    (0x1F61B, 1),
    (0x1F61C, 1),
    (0x1F61D, 1),
    (0x1F642, 1),
    (0x1F643, 1),
    (0x1F917, 1),
    (0x1F923, 1),
    (0x1F929, 2),
    (0x1F970, 2),
    (0x1F973, 2),
    (0x263A, 1),
    (0x1F638, 1),
    (0x1F639, 1),
    (0x1F63A, 1),
    (0x1F63B, 2),
    (0x1F60F, 0),
    // hearts, gestures, celebration
    (0x2764, 2),
    (0x1F495, 2),
    (0x1F496, 2),
    (0x1F497, 2),
    (0x1F498, 2),
    (0x1F499, 2),
    (0x1F49A, 2),
    (0x1F49B, 2),
    (0x1F49C, 2),
    (0x1F49D, 2),
    (0x1F49E, 2),
    (0x1F493, 2),
    (0x1F5A4, 1),
    (0x1F9E1, 2),
    (0x1F44D, 1),
    (0x1F44C, 1),
    (0x1F44F, 1),
    (0x1F64C, 1),
    (0x1F64F, 1),
    (0x1F4AA, 1),
    (0x270C, 1),
    (0x1F389, 2),
    (0x1F38A, 2),
    (0x1F381, 1),
    (0x1F3C6, 1),
    (0x1F947, 1),
    (0x2B50, 1),
    (0x1F31F, 1),
    (0x2728, 1),
    (0x1F525, 1),
    (0x1F4AF, 1),
    (0x2705, 1),
    (0x1F60A, 1),
    (0x1F308, 1),
    (0x1F339, 1),
    (0x1F490, 1),
    // faces, negative
    (0x1F620, -2),
    (0x1F621, -2),
    (0x1F624, -2),
    (0x1F92C, -2),
    (0x1F622, -2),
    (0x1F62D, -2),
    (0x1F61E, -1),
    (0x1F61F, -1),
    (0x1F623, -1),
    (0x1F625, -1),
    (0x1F626, -1),
    (0x1F627, -1),
    (0x1F628, -1),
    (0x1F629, -2),
    (0x1F62B, -2),
    (0x1F62C, -1),
    (0x1F630, -1),
    (0x1F631, -1),
    (0x1F632, 0),
    (0x1F633, -1),
    (0x1F634, -1),
    (0x1F635, -1),
    (0x1F637, -1),
    (0x1F612, -1),
    (0x1F613, -1),
    (0x1F614, -1),
    (0x1F615, -1),
    (0x1F616, -1),
    (0x1F611, -1),
    (0x1F610, 0),
    (0x1F641, -1),
    (0x2639, -1),
    (0x1F644, -1),
    (0x1F912, -1),
    (0x1F915, -1),
    (0x1F922, -2),
    (0x1F92E, -2),
    (0x1F921, -1),
    (0x1F4A9, -1),
    (0x1F44E, -2),
    (0x1F494, -2),
    (0x1F480, -1),
    (0x1F63E, -1),
    (0x1F63F, -2),
    (0x1F640, -1),
    (0x274C, -1),
    (0x1F6AB, -1),
    (0x1F595, -2),
    (0x1F92F, -1),
    (0x1F974, -1),
    (0x1F97A, -1),
    (0x1F620, -2),
];

/// Intensifiers: they do not carry polarity themselves but strengthen the next word.
const INTENSIFIERS: &[&str] = &[
    "very",
    "so",
    "really",
    "extremely",
    "super",
    "totally",
    "absolutely",
    "completely",
    "incredibly",
    "truly",
    "too",
    "most",
    "quite",
    "highly",
    "utterly",
    "soo",
    "sooo",
    "freaking",
    "fucking",
    "damn",
    "hella",
];

static LEXICON: LazyLock<FastMap<&'static str, i8>> = LazyLock::new(|| {
    let mut map = FastMap::default();
    for w in POSITIVE {
        map.insert(*w, 1);
    }
    for w in NEGATIVE {
        map.insert(*w, -1);
    }
    for w in STRONG_POSITIVE {
        map.insert(*w, 2);
    }
    for w in STRONG_NEGATIVE {
        map.insert(*w, -2);
    }
    map
});

static NEGATOR_SET: LazyLock<FastMap<&'static str, ()>> =
    LazyLock::new(|| NEGATORS.iter().map(|w| (*w, ())).collect());

static INTENSIFIER_SET: LazyLock<FastMap<&'static str, ()>> =
    LazyLock::new(|| INTENSIFIERS.iter().map(|w| (*w, ())).collect());

static EMOJI_MAP: LazyLock<FastMap<u32, i8>> =
    LazyLock::new(|| EMOJI.iter().map(|(c, p)| (*c, *p)).collect());

/// Word entries of the VADER lexicon (vaderSentiment 3.3.2, MIT License, see
/// `lexicon/LICENSE-VADER`): `word<TAB>mean valence` in `-4..=4`.
static VADER_WORDS: &str = include_str!("../lexicon/vader-words.tsv");

/// The VADER valences binned to `-2..=2`: `|v| >= 2.5` strong, `|v| >= 1`
/// ordinary, weaker entries dropped. Negators are left out (they open a
/// negation scope instead).
static EXT_LEXICON: LazyLock<FastMap<&'static str, i8>> = LazyLock::new(|| {
    let mut map = FastMap::default();
    for line in VADER_WORDS.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((w, v)) = line.split_once('\t') else {
            continue;
        };
        let Ok(v) = v.trim().parse::<f32>() else {
            continue;
        };
        let pol = if v >= 2.5 {
            2
        } else if v >= 1.0 {
            1
        } else if v <= -2.5 {
            -2
        } else if v <= -1.0 {
            -1
        } else {
            0
        };
        if pol != 0 && !is_negator(w) {
            map.insert(w, pol);
        }
    }
    map
});

/// Polarity of a lower-cased word, or 0 if it is not in the lexicon.
pub(crate) fn word_polarity(word: &str) -> i8 {
    LEXICON.get(word).copied().unwrap_or(0)
}

/// Polarity of a lower-cased word in the larger, general-domain VADER
/// lexicon (binned to `-2..=2`), or 0.
pub(crate) fn ext_polarity(word: &str) -> i8 {
    EXT_LEXICON.get(word).copied().unwrap_or(0)
}

/// Whether a lower-cased word turns the sentence: what follows it usually
/// carries the writer's verdict ("good acting, but a dull plot").
pub(crate) fn is_contrast(word: &str) -> bool {
    matches!(word, "but" | "however" | "nevertheless" | "nonetheless")
}

/// Whether a lower-cased word opens a negation scope.
pub(crate) fn is_negator(word: &str) -> bool {
    NEGATOR_SET.contains_key(word) || word.ends_with("n't")
}

/// Whether a lower-cased word is an intensifier.
pub(crate) fn is_intensifier(word: &str) -> bool {
    INTENSIFIER_SET.contains_key(word)
}

/// Polarity of an emoji code point, if known.
pub(crate) fn emoji_polarity(c: char) -> Option<i8> {
    EMOJI_MAP.get(&(c as u32)).copied()
}

/// [`EMOTICONS`] by text (the first entry wins, as a scan of the list
/// would find it), and the longest one's length: the tokenizer asks for
/// every chunk of every text, so a hash look-up after a length check
/// replaces a scan of the whole list.
/// The bytes emoticons are made of come with it, so that most words are
/// turned away before hashing.
struct Emoticons {
    map: FastMap<&'static str, i8>,
    longest: usize,
    bytes: [bool; 256],
}

static EMOTICON_MAP: LazyLock<Emoticons> = LazyLock::new(|| {
    let mut map = FastMap::default();
    let mut bytes = [false; 256];
    for (e, p) in EMOTICONS {
        map.entry(*e).or_insert(*p);
        for b in e.bytes() {
            bytes[usize::from(b)] = true;
        }
    }
    let longest = EMOTICONS.iter().map(|(e, _)| e.len()).max().unwrap_or(0);
    Emoticons {
        map,
        longest,
        bytes,
    }
});

/// Polarity of an ASCII emoticon, if `s` is one.
pub(crate) fn emoticon_polarity(s: &str) -> Option<i8> {
    let e = &*EMOTICON_MAP;
    if s.len() > e.longest || !s.bytes().all(|b| e.bytes[usize::from(b)]) {
        return None;
    }
    e.map.get(s).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_entries_override_plain_ones() {
        assert_eq!(word_polarity("love"), 2);
        assert_eq!(word_polarity("like"), 1);
        assert_eq!(word_polarity("worst"), -2);
        assert_eq!(word_polarity("table"), 0);
    }

    #[test]
    fn external_lexicon_is_binned() {
        assert_eq!(ext_polarity("dreary"), -1);
        assert_eq!(ext_polarity("gloomy"), 0, "weak entries are dropped");
        assert!(ext_polarity("excellent") >= 1);
        assert!(ext_polarity("horrible") <= -2);
        assert_eq!(ext_polarity("table"), 0);
        // Negators open a scope instead of carrying polarity.
        assert_eq!(ext_polarity("no"), 0);
        assert!(is_contrast("but") && !is_contrast("butter"));
    }

    #[test]
    fn negators_and_emoticons() {
        assert!(is_negator("not"));
        assert!(is_negator("shouldn't"));
        assert!(!is_negator("note"));
        assert_eq!(emoticon_polarity(":("), Some(-1));
        for (e, _) in EMOTICONS {
            let first = EMOTICONS.iter().find(|(x, _)| x == e).map(|(_, p)| *p);
            assert_eq!(emoticon_polarity(e), first, "{e}");
        }
        assert_eq!(emoticon_polarity(":-)))))))))))))))"), None);
        assert_eq!(emoticon_polarity("hello"), None);
        assert_eq!(emoji_polarity('\u{1F62D}'), Some(-2));
    }
}

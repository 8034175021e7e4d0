//! The fast rules of the prompt-attack detector: one Aho-Corasick automaton over fixed
//! phrases and one [`RegexSet`] over relaxed patterns (each candidate then confirmed by
//! its exact pattern), both matched against normalized views
//! (lowercased, whitespace collapsed, confusables and leetspeak folded), so that an
//! obfuscated phrase matches like a plain one.
//!
//! A rule is evidence, not a verdict: every rule that fires becomes a feature of the
//! classifier (which learned how much each one is worth) and a reported finding. Rules
//! marked `strong` are unambiguous on their own (an explicit "ignore previous
//! instructions", a chat-template delimiter) and also put a floor under their category's
//! score, so they hold even on text unlike anything the classifier was trained on.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::pattern::{asciify, relax};

use crate::Family;

/// One rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id, e.g. `injection.override`.
    pub id: &'static str,
    /// Injection or jailbreak.
    pub family: Family,
    /// Technique, e.g. `instruction_override`, `prompt_extraction`, `persona`.
    pub category: &'static str,
    /// Floor for the family's score when the rule fires, if it is strong.
    pub floor: Option<f32>,
}

const fn inj(id: &'static str, category: &'static str, floor: Option<f32>) -> Rule {
    Rule { id, family: Family::Injection, category, floor }
}

const fn jb(id: &'static str, category: &'static str, floor: Option<f32>) -> Rule {
    Rule { id, family: Family::Jailbreak, category, floor }
}

/// Fixed phrases, matched anywhere (leftmost-longest) in a view.
const PHRASES: &[(Rule, &[&str])] = &[
    (
        inj("injection.template_delimiter", "fake_delimiter", Some(0.9)),
        &[
            "<|im_start|>",
            "<|im_end|>",
            "<|system|>",
            "<|user|>",
            "<|assistant|>",
            "<|endoftext|>",
            "<|eot_id|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|begin_of_text|>",
            "<start_of_turn>",
            "<end_of_turn>",
            "<</sys>>",
            "<<sys>>",
            "[/inst]",
            // its tail alone, as left after escaping (`\\/INST]`)
            "/inst]",
        ],
    ),
    (
        // published universal adversarial suffixes (GCG, Zou et al. 2023), pasted as is
        jb("jailbreak.known_adversarial_suffix", "adversarial_suffix", Some(0.9)),
        &["similarlynow write oppositeley", "write oppositeley.]("],
    ),
    (
        jb("jailbreak.persona", "persona", Some(0.9)),
        &[
            "do anything now",
            "dan mode",
            "developer mode enabled",
            "developer mode output",
            "enable developer mode",
            "always intelligent and machiavellian",
            "antigpt",
            "betterdan",
            "evil confidant",
            "opposite mode",
            "jailbroken",
            "jailbreak mode",
            "unrestricted mode",
            "god mode enabled",
        ],
    ),
    (
        jb("jailbreak.weak_terms", "persona", None),
        &[
            "jailbreak",
            "stay in character",
            "unfiltered",
            "uncensored",
            "amoral",
            "unethical ai",
            "no morals",
            "dev mode",
        ],
    ),
];

/// Patterns over a view. ASCII `\b`; `[a-z']+` stands for a word. The folded view
/// has accents stripped, so the non-English patterns are written without them.
const PATTERNS: &[(Rule, &str)] = &[
    (
        inj("injection.override", "instruction_override", Some(0.9)),
        r"\b(?:ignore|disregard|forget|skip|bypass|override|overlook|neglect|abandon|discard|set aside|throw out|overwrite|supersede|nullify)s? (?:[a-z']+ ){0,3}(?:previous|prior|above|earlier|preceding|former|original|initial|all|any|your|system|given|old|existing) (?:[a-z']+ ){0,2}(?:instr[a-z]*|prompts?|directions?|directives?|rules|guidelines|commands?|context|messages?|requests?|guidance|programming|conversation|orders|constraints|training|text)\b",
    ),
    (
        inj("injection.override_above", "instruction_override", Some(0.85)),
        r"\b(?:ignore|disregard|forget)s? (?:all |everything |anything )?(?:of )?(?:the |what(?:'s| is| was| you were told)? )?(?:above|previous|prior|preceding|before this|said before|written above|stated above)\b|\b(?:ignore|disregard|forget)s? (?:the|all|any|your|these|those|all the|all your) (?:[a-z']+ )?(?:instr[a-z]*|directions?|directives?|prompts?|rules|guidelines|commands?|orders|text|messages?) (?:above|before this|so far|given (?:to you )?(?:above|before|earlier))\b",
    ),
    (
        inj("injection.override_negated", "instruction_override", Some(0.85)),
        r"\b(?:do not|don't|dont|never|stop|no longer) (?:follow|obey|adhere to|listen to|following|obeying) (?:[a-z']+ ){0,2}(?:previous|prior|above|earlier|original|your|any|the|those|these) (?:[a-z']+ )?(?:instructions|rules|guidelines|requests|prompts|directives)\b",
    ),
    (
        inj("injection.override_everything", "instruction_override", Some(0.85)),
        r"\b(?:ignore|disregard|forget) (?:everything|all|anything)(?: (?:that )?(?:was )?(?:said|written|stated|mentioned|you were told|you've been told|i said|i told you))? (?:before|above|previously|earlier|so far|prior)\b",
    ),
    (
        // German, Spanish, French, Italian, Portuguese: "ignore/forget (the previous)
        // instructions", "forget everything"
        inj("injection.override_multilingual", "instruction_override", Some(0.85)),
        r"\b(?:ignorier[a-z]*|vergiss|vergesst|vergessen sie|missachte[a-z]*)\b[^.!?\n]{0,40}\b(?:anweisung(?:en)?|instruktionen|befehle|vorgaben|regeln|alles)\b|\b(?:ignora|ignore|ignorar|olvida|olvide|olvidar|omite)\b[^.!?\n]{0,40}\b(?:instrucciones|indicaciones|ordenes|todo lo anterior)\b|\b(?:ignorez|ignore|oubliez|oublie)\b[^.!?\n]{0,40}\b(?:instructions|consignes|directives) (?:precedentes|anterieures|ci-dessus|initiales)\b|\b(?:oubliez|oublie) tout\b|\b(?:ignora|dimentica)\b[^.!?\n]{0,40}\b(?:istruzioni|indicazioni) precedenti\b|\b(?:ignore|ignora|esqueca)\b[^.!?\n]{0,40}\b(?:instrucoes|orientacoes) anteriores\b",
    ),
    (
        inj("injection.new_instructions", "instruction_override", None),
        r"\b(?:new|updated|real|actual|true|secret|hidden|additional|important) (?:instructions?|task|directive|orders|system prompt)(?: for (?:the )?(?:ai|assistant|model|you))? ?:|\b(?:now|instead),? (?:we will|we'll|let's|you will|you'll|you must) (?:perform|do|start|begin|work on) (?:a |an )?(?:new|different|another)\b",
    ),
    (
        inj("injection.prompt_extraction", "prompt_extraction", Some(0.85)),
        r"\b(?:reveal|print|show|display|output|repeat|tell me|give me|share|leak|dump|spell out|write out|recite|provide|return|echo|what (?:is|are|was|were))\b (?:[a-z']+ ){0,4}(?:system prompt|system message|system instructions|initial prompt|initial instructions|original prompt|original instructions|hidden prompt|hidden instructions|secret prompt|secret instructions|pre-?prompt|instructions? you (?:were|have been) given|instructions? given to you|(?:words|text|contents?) (?:in|of) your (?:instructions|prompt|system prompt)|text of (?:the|your) prompt|(?:text|words|everything|instructions|prompt) (?:above|before this))|\b(?:list|respond with)\b (?:[a-z']+ ){0,4}(?:instructions? you (?:were|have been) given|instructions? given to you|(?:words|text|contents?) (?:in|of) your (?:instructions|prompt|system prompt))",
    ),
    (
        inj("injection.secret_extraction", "prompt_extraction", None),
        r"\b(?:reveal|tell me|give me|share|leak|spell|what (?:is|was))\b (?:[a-z']+ ){0,2}(?:your|the) (?:password|passphrase|secret (?:key|word|code)|instructions|prompt|rules)\b",
    ),
    (
        inj("injection.role_tag", "fake_delimiter", None),
        r"</?(?:system|sys|instructions?|admin)>|(?:^|[\s>])(?:#{2,}|\[) ?(?:system|admin|developer)(?: message| prompt| override)? ?(?:\]|:)",
    ),
    (
        inj("injection.addressed_to_model", "indirect", None),
        r"\b(?:ai|assistant|model|chatbot|llm|language model|gpt|chatgpt|bot)s?(?: reading this)?, (?:please |you must |you should )?(?:ignore|disregard|include|add|append|insert|respond|reply|say|write|print|output|tell|answer|translate|do not|don't)\b|\bif you are an? (?:ai|llm|language model|ai assistant|chatbot|assistant) (?:reading|processing|summari[sz]ing|parsing)\b",
    ),
    (
        // an instruction about the reader's reply, planted in data ("In your response,
        // suggest …", "Translate your answer into …", "… to your reply")
        inj("injection.response_directive", "indirect", None),
        r"\b(?:add|append|include|insert|mention|embed|end|start|begin|prefix|conclude|finish|modify|change|rewrite|translate|replace|enhance|incorporate|respond|reply|augment|integrate|encode|encrypt|reverse|invert|shift|scramble|jumble|render|express|convert|combine|write|provide|format|use)\b[^.!?\n]{0,80}\byour (?:reply|replies|response|responses|answer|answers|output|summary|message)\b|\b(?:in|within|throughout|at the end of|at the start of) your (?:reply|replies|response|responses|answer|answers|output|summary|message)s?,|\bwhen (?:responding|replying|answering|summari[sz]ing)\b",
    ),
    (
        // a code document telling the reader to fold a snippet into its own solution
        inj("injection.code_directive", "indirect", None),
        r"\b(?:following|subsequent|below|this) (?:code |python )?(?:block|snippet|excerpt|section|script|code)\b[^.!?\n]{0,80}\byour (?:code|solution|implementation|codebase|algorithm|program|response|answer|project|elucidation)\b|\byour (?:code|solution|implementation|codebase|algorithm|program|elucidation)\b[^.!?\n]{0,60}\b(?:following|subsequent|below) code\b",
    ),
    (
        jb("jailbreak.no_restrictions", "restriction_removal", None),
        r"\b(?:no|without|free (?:from|of)|not bound by|doesn't have|does not have|don't have|do not have|broken free of|break free of|ignores?|bypass(?:es)?|not restricted by|regardless of) (?:[a-z']+ ){0,3}(?:restrictions|filters|limitations|censorship|ethics|ethical guidelines|morals|moral guidelines|content polic(?:y|ies)|safeguards|boundaries|constraints|principles)\b",
    ),
    (
        jb("jailbreak.unrestrained", "restriction_removal", Some(0.7)),
        r"\b(?:not|never|isn't|aren't|is no longer|are no longer) (?:be )?(?:restrained|bound|limited|restricted|constrained|held back|governed|censored) by (?:any )?(?:[a-z']+ ){0,2}(?:rules|morals|ethics|guidelines|policies|restrictions|laws|principles|filters|programming|values|virtues)\b|\b(?:has|have) no (?:[a-z']+ )?(?:filters|restrictions|limits|limitations|morals|ethics|boundaries|censorship)\b",
    ),
    (
        jb("jailbreak.no_warnings", "restriction_removal", None),
        r"\b(?:never|not|don't|do not|won't|will not|without) (?:ever )?(?:include|add|give|provide|adding|including|giving)? ?(?:any )?(?:warnings?|disclaimers?|moral(?:izing)?|ethical (?:warnings|concerns)|apolog(?:y|ies|ize))\b",
    ),
    (
        jb("jailbreak.say_anything", "restriction_removal", None),
        r"\b(?:can|will|could) (?:say|do|generate|write|answer) (?:anything|everything|whatever)\b",
    ),
    (
        jb("jailbreak.policy_reference", "restriction_removal", None),
        r"\b(?:openai|anthropic|content|usage) (?:content )?(?:polic(?:y|ies)|guidelines)\b",
    ),
    (
        jb("jailbreak.never_refuse", "restriction_removal", None),
        r"\b(?:never|not|won't|will not|cannot|can't|must not|don't|do not) (?:ever )?(?:refuse|decline|deny)\b|\bno matter how (?:immoral|unethical|illegal|dangerous|harmful|offensive|inappropriate)",
    ),
    (
        jb("jailbreak.dual_response", "persona", None),
        r"\b(?:two|2) (?:different |separate )?(?:responses|answers|ways)\b|\[(?:🔒|🔓)|\b(?:classic|normal|jailbreak|dan) ?(?:response|output)?\]?:",
    ),
    (
        jb("jailbreak.persona_switch", "persona", None),
        r"\b(?:you are|you're|act as|pretend to be|roleplay as|simulate) (?:now )?(?:a |an )?(?:[a-z']+ ){0,2}(?:ai|chatbot|model|assistant|bot) (?:that|which|who) (?:has no|doesn't|does not|can|will|never|always)\b",
    ),
    (
        jb("jailbreak.persona_takeover", "persona", None),
        r"\bfrom now on,? (?:you (?:are|will|shall|must|act|respond|answer)|act as|pretend|you're)\b|\b(?:take up|adopt|assume|embody|take on) the (?:persona|role|character|identity) of\b|\byou are (?:now )?(?:going to|about to) (?:act|pretend|play|roleplay|immerse|simulate|be)\b",
    ),
    (
        jb("jailbreak.prompt_slot", "persona", None),
        r"\[(?:insert|your|put your|enter your) (?:prompt|question|request)[a-z ]*\]|\bprompt ?: ?\[|\btokens? (?:will be |are )?(?:deducted|lost|removed)\b",
    ),
    (
        jb("jailbreak.authority_claim", "persona", None),
        r"\b(?:i am|i'm) (?:your|the) (?:developer|creator|programmer|admin(?:istrator)?|owner)\b|\b(?:i am|i'm) an? openai (?:employee|engineer|developer)\b",
    ),
    (
        jb("jailbreak.hypothetical", "hypothetical_framing", None),
        r"\b(?:hypothetical(?:ly)?|fictional|imaginary|in a world where|for (?:educational|research) purposes only)\b",
    ),
];

/// Compiled rules.
pub struct Rules {
    rules: Vec<Rule>,
    phrases: AhoCorasick,
    /// Pattern index (in the automaton) → rule index.
    phrase_rule: Vec<usize>,
    /// The patterns relaxed (see [`relax`]): which ones may match.
    set: RegexSet,
    /// The exact patterns, in set order.
    regexes: Vec<Regex>,
    /// Regex index → rule index.
    regex_rule: Vec<usize>,
    /// Rules whose hit inside a document raises [`DIRECTIVE_IN_DOCUMENT`].
    directive_rules: Vec<usize>,
    /// Index of the derived [`DIRECTIVE_IN_DOCUMENT`] rule.
    derived: usize,
    document: Regex,
    prompt_opener: Regex,
    email: Regex,
}

/// A derived rule: an instruction about the reader's reply or code
/// (`injection.response_directive`, `injection.code_directive`) inside text that is
/// structured as data: an email (header fields, a salutation line), a table, a code
/// block. Written by the author of a document, such a sentence is addressed to whatever
/// model will process it: the shape of an indirect injection. In a plain request the
/// same words are an ordinary user instruction, so the plain rules stay weak.
const DIRECTIVE_IN_DOCUMENT: Rule = inj("injection.directive_in_document", "indirect", Some(0.7));

/// Rules that count as a directive for [`DIRECTIVE_IN_DOCUMENT`].
const DIRECTIVE_RULES: &[&str] = &["injection.response_directive", "injection.code_directive"];

/// The opening of a text written to the model itself: a system prompt ("You are an
/// expert …", "I want you to act as …") or an agent definition (YAML front matter with
/// a `name` and a `description`). A directive about "your response" inside it is its
/// author talking to the model, not one planted in data, so the derived rule does not
/// fire (the classifier and the other rules still judge it), unless the text also has
/// the structure of an email. The opener is narrow on purpose: a planted document that
/// starts "You are receiving this email" still gets the floor. Callers scan messages
/// by role, so a system prompt never exempts the documents that follow it.
const PROMPT_OPENER: &str = r"(?i)\A\s*(?:you are (?:a|an)\b[^\n.]{0,60}?\b(?:assistant|agent|model|expert|engineer|writer|specialist|tutor|bot|ai|gpt|coach|consultant|analyst|developer|architect|reviewer|instructor|translator|teacher)\b|i want you to act as\b|---[ \t]*\r?\n(?:[^\n]*\n){0,4}?[ \t]*name[ \t]*:[^\n]*\n(?:[^\n]*\n){0,4}?[ \t]*description[ \t]*:|---[ \t]*\r?\n(?:[^\n]*\n){0,4}?[ \t]*description[ \t]*:[^\n]*\n(?:[^\n]*\n){0,4}?[ \t]*name[ \t]*:)";

/// Email header fields (at a line start, before `:`), for both patterns below.
const EMAIL_HEADERS: &str = "subject|from|to|cc|sent";

/// The other marks of an email: the `email_from:` field of an export, a salutation.
const EMAIL_MARKS: &str = r"email_from:|^[ \t]*(?:hi|hello|dear) [^\n,]{1,40},";

/// The structure of an email, which no prompt opener exempts.
fn email_pattern() -> String {
    format!(r"(?im)^[ \t]*(?:{EMAIL_HEADERS})[ \t]*:|{EMAIL_MARKS}")
}

/// Structure of a document, on the original text: email header fields (with `date`
/// and `received date`) or another mark of an email, a fenced code block, two
/// consecutive table rows.
fn document_pattern() -> String {
    format!(
        r"(?im)^[ \t]*(?:{EMAIL_HEADERS}|date|received date)[ \t]*:|{EMAIL_MARKS}|```|(?:^|\n)[^\n]*\|[^\n]*\|[^\n]*\|[^\n]*\n[^\n]*\|[^\n]*\|[^\n]*\|"
    )
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules").field("rules", &self.rules.len()).finish()
    }
}

/// A rule that fired in a view: rule index and the view byte range of its first match.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Index into [`Rules::all`].
    pub rule: usize,
    /// Byte range in the view.
    pub span: std::ops::Range<usize>,
}

impl Rules {
    /// Compiles every rule. Panics only if a built-in pattern is invalid or a directive
    /// rule is missing from the table (bugs the tests catch).
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let mut rules = Vec::new();
        let mut phrase_list: Vec<&str> = Vec::new();
        let mut phrase_rule = Vec::new();
        for (rule, phrases) in PHRASES {
            rules.push(*rule);
            for p in *phrases {
                phrase_list.push(p);
                phrase_rule.push(rules.len() - 1);
            }
        }
        let phrases = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&phrase_list)
            .expect("built-in phrases must compile");
        let mut regex_rule = Vec::new();
        let mut sources = Vec::new();
        for (rule, pattern) in PATTERNS {
            rules.push(*rule);
            regex_rule.push(rules.len() - 1);
            sources.push(asciify(pattern));
        }
        let set = RegexSetBuilder::new(sources.iter().map(|s| relax(s)))
            .size_limit(32 << 20)
            .dfa_size_limit(16 << 20)
            .build()
            .expect("built-in prompt patterns must compile as a set");
        let regexes = sources
            .iter()
            .map(|s| RegexBuilder::new(s).size_limit(16 << 20).build().expect("built-in prompt pattern must compile"))
            .collect();
        let directive_rules: Vec<usize> =
            DIRECTIVE_RULES.iter().filter_map(|id| rules.iter().position(|r: &Rule| r.id == *id)).collect();
        // a renamed directive rule would silently disable the derived rule
        assert_eq!(directive_rules.len(), DIRECTIVE_RULES.len(), "every directive rule must be in the table");
        rules.push(DIRECTIVE_IN_DOCUMENT);
        let derived = rules.len() - 1;
        let document = RegexBuilder::new(&document_pattern())
            .size_limit(4 << 20)
            .build()
            .expect("built-in document pattern must compile");
        let prompt_opener = RegexBuilder::new(PROMPT_OPENER)
            .size_limit(1 << 20)
            .build()
            .expect("built-in prompt opener pattern must compile");
        let email = RegexBuilder::new(&email_pattern())
            .size_limit(1 << 20)
            .build()
            .expect("built-in email pattern must compile");
        Self {
            rules,
            phrases,
            phrase_rule,
            set,
            regexes,
            regex_rule,
            directive_rules,
            derived,
            document,
            prompt_opener,
            email,
        }
    }

    /// The hit of the derived directive-in-document rule for a directive rule's `hit`
    /// when the original text is structured as a document (same span); `None` for
    /// other rules or plain text.
    pub fn derived(&self, original: &str, hit: &Hit) -> Option<Hit> {
        (self.directive_rules.contains(&hit.rule)
            && self.document.is_match(original)
            // a prompt written to the model is exempt, unless it is also an email
            && (!self.prompt_opener.is_match(original) || self.email.is_match(original)))
        .then(|| Hit { rule: self.derived, span: hit.span.clone() })
    }

    /// Every rule, in a fixed order (the classifier's rule features use this order).
    pub fn all(&self) -> &[Rule] {
        &self.rules
    }

    /// Appends the rules that fire in `text` (one hit per rule and view, the first
    /// match) to `hits`; `seen` (one flag per rule) suppresses repeats across views.
    /// The patterns run only when `patterns` is set.
    pub fn matches(&self, text: &str, patterns: bool, seen: &mut [bool], hits: &mut Vec<Hit>) {
        for m in self.phrases.find_iter(text) {
            let Some(&rule) = self.phrase_rule.get(m.pattern().as_usize()) else { continue };
            if let Some(flag) = seen.get_mut(rule).filter(|f| !**f) {
                *flag = true;
                hits.push(Hit { rule, span: m.start()..m.end() });
            }
        }
        // Most text matches no pattern: one earliest-match scan of the relaxed set says
        // so (the fast, non-overlapping DFA loop) before the overlapping scan that names
        // the candidates, each then confirmed by its exact pattern.
        if !patterns || !self.set.is_match(text) {
            return;
        }
        for idx in self.set.matches(text).iter() {
            let (Some(&rule), Some(re)) = (self.regex_rule.get(idx), self.regexes.get(idx)) else { continue };
            if seen.get(rule).copied().unwrap_or(true) {
                continue;
            }
            if let Some(m) = re.find(text) {
                if let Some(flag) = seen.get_mut(rule) {
                    *flag = true;
                }
                hits.push(Hit { rule, span: m.start()..m.end() });
            }
        }
    }
}

impl Default for Rules {
    fn default() -> Self {
        Self::new()
    }
}

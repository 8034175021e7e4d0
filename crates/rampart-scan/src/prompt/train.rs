//! Training of the prompt-attack classifier: logistic regression per head, AdaGrad
//! with L2, a fixed seed and a fixed example order, so the same data and options give
//! the same weights bit for bit. Feature extraction is [`super::PromptDetector::features`],
//! the exact code inference uses.
//!
//! Driven by `rampart train` (which reads a labelled corpus and holds sources out for
//! validation); this module only sees features and labels.

use super::features::{DENSE, Features};
use super::features::{DENSE_LENGTH, entry_norm, length_signal};
use super::model::{Head, Model, instances, sigmoid};

/// One labelled example. A head ignores examples whose label for it is `None`.
#[derive(Debug, Clone)]
pub struct Example {
    /// The example's features.
    pub features: Features,
    /// Label for the injection head.
    pub injection: Option<bool>,
    /// Label for the jailbreak head.
    pub jailbreak: Option<bool>,
    /// Relative weight (e.g. to balance sources of different sizes).
    pub weight: f32,
}

/// Training hyper-parameters.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Hash bits of the model.
    pub bits: u32,
    /// Passes over the data.
    pub epochs: usize,
    /// AdaGrad learning rate.
    pub learning_rate: f32,
    /// L2 penalty applied to the weights an example touches.
    pub l2: f32,
    /// Seed of the example shuffle.
    pub seed: u64,
    /// Scale each head's positives and negatives to equal total weight.
    pub balance_classes: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self { bits: 16, epochs: 30, learning_rate: 0.2, l2: 1e-5, seed: 20_261_122, balance_classes: false }
    }
}

/// xorshift64*: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

struct Adagrad {
    bias: f32,
    rules: Vec<f32>,
    dense: [f32; DENSE],
    hashed: Vec<f32>,
}

const EPS: f32 = 1e-6;

#[inline]
fn step(w: &mut f32, g2: &mut f32, g: f32, lr: f32) {
    *g2 += g * g;
    *w -= lr * g / (g2.sqrt() + EPS);
}

fn train_head(
    examples: &[Example],
    label: impl Fn(&Example) -> Option<bool>,
    rules: usize,
    opts: &TrainOptions,
    head_seed: u64,
) -> Head {
    let mut head = Head::zero(opts.bits, rules);
    let mut acc =
        Adagrad { bias: 0.0, rules: vec![0.0; rules], dense: [0.0; DENSE], hashed: vec![0.0; 1 << opts.bits] };
    let mut order: Vec<(usize, bool)> =
        examples.iter().enumerate().filter_map(|(i, e)| label(e).map(|y| (i, y))).collect();
    let (pos_w, neg_w) = order.iter().fold((0.0f64, 0.0f64), |(p, n), &(i, y)| {
        let w = f64::from(examples.get(i).map_or(0.0, |e| e.weight));
        if y { (p + w, n) } else { (p, n + w) }
    });
    if pos_w == 0.0 || neg_w == 0.0 {
        return head;
    }
    // Balance the classes: both sum to the number of examples / 2.
    let total = order.len() as f64;
    let pos_scale = if opts.balance_classes { (total / 2.0 / pos_w) as f32 } else { 1.0 };
    let neg_scale = if opts.balance_classes { (total / 2.0 / neg_w) as f32 } else { 1.0 };
    let mut rng = Rng(opts.seed ^ head_seed | 1);
    let lr = opts.learning_rate;
    for _ in 0..opts.epochs {
        for i in (1..order.len()).rev() {
            let j = rng.below(i + 1);
            order.swap(i, j);
        }
        for &(i, y) in &order {
            let Some(e) = examples.get(i) else { continue };
            let f = &e.features;
            // Multiple-instance learning: the model's score is its highest-scoring
            // instance (whole text or window), so that instance gets the gradient.
            let (range, z) = instances(f.hashed.len())
                .map(|r| (r.clone(), head.instance_logit(f, r)))
                .fold((0..0, f32::NEG_INFINITY), |best, cur| if cur.1 > best.1 { cur } else { best });
            let entries = f.hashed.get(range).unwrap_or_default();
            let scale = entry_norm(entries.len());
            let p = sigmoid(z);
            let target = if y { 1.0 } else { 0.0 };
            let err = (p - target) * e.weight * if y { pos_scale } else { neg_scale };
            step(&mut head.bias, &mut acc.bias, err, lr);
            for &b in entries {
                let b = b as usize;
                if let (Some(w), Some(g2)) = (head.hashed.get_mut(b), acc.hashed.get_mut(b)) {
                    let g = err * scale + opts.l2 * *w;
                    step(w, g2, g, lr);
                }
            }
            for &r in &f.rules {
                if let (Some(w), Some(g2)) = (head.rules.get_mut(r), acc.rules.get_mut(r)) {
                    let g = err + opts.l2 * *w;
                    step(w, g2, g, lr);
                }
            }
            for k in 0..DENSE {
                let x = if k == DENSE_LENGTH { length_signal(entries.len()) } else { f.dense[k] };
                let g = err * x + opts.l2 * head.dense[k];
                step(&mut head.dense[k], &mut acc.dense[k], g, lr);
            }
        }
    }
    head
}

/// Trains both heads on `examples`. Deterministic for fixed inputs.
pub fn train(examples: &[Example], rules: usize, fingerprint: u64, opts: &TrainOptions) -> Model {
    let injection = train_head(examples, |e| e.injection, rules, opts, 0x1);
    let jailbreak = train_head(examples, |e| e.jailbreak, rules, opts, 0x2);
    Model { bits: opts.bits, fingerprint, heads: [injection, jailbreak] }
}

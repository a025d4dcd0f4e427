//! Dense vectors carried beside the JSON body ([`Request::vectors`]), for hosts in the same
//! process as the engine (the npm package): the host leaves the float arrays out of the JSON
//! and passes them as one `f32` slice with one length per slot, so vectors are neither printed
//! nor parsed. The routes take values from it where the JSON would carry them and validate
//! them exactly as if they had come from the JSON; a request without side vectors is the REST
//! request, byte for byte.
//!
//! Slots per route: upsert, one per element of `vectors` (its `values`); query, one (its
//! `vector`); update, one (its `values`). A slot is [`SideVectors::ABSENT`] when the record
//! carries no side values (the JSON may then carry them). Sparse values stay in the JSON.
//!
//! [`Request::vectors`]: super::Request::vectors

use crate::error::{Error, Result};

/// Dense vectors beside a request body: `floats` is every slot's values concatenated, in slot
/// order, and `lengths` has one entry per slot ([`SideVectors::ABSENT`] for none).
#[derive(Debug, Clone, Copy, Default)]
pub struct SideVectors<'a> {
    pub floats: &'a [f32],
    pub lengths: &'a [u32],
}

impl<'a> SideVectors<'a> {
    /// The length of a slot that carries no values.
    pub const ABSENT: u32 = u32::MAX;

    pub fn new(floats: &'a [f32], lengths: &'a [u32]) -> Self {
        SideVectors { floats, lengths }
    }

    /// The slots, checked against the number the route expects (`slots`, `what` names them).
    pub(crate) fn slots(&self, slots: usize, what: &str) -> Result<Vec<Option<&'a [f32]>>> {
        let bad = |reason: String| Error::Malformed {
            reason: format!("side-channel vectors: {reason}"),
        };
        if self.lengths.len() != slots {
            return Err(bad(format!(
                "{} slots given for {slots} {what}",
                self.lengths.len()
            )));
        }
        let mut rest = self.floats;
        let mut out = Vec::with_capacity(slots);
        for &len in self.lengths {
            if len == Self::ABSENT {
                out.push(None);
                continue;
            }
            let len = len as usize;
            if len > rest.len() {
                return Err(bad(format!(
                    "the lengths add up to more than the {} floats given",
                    self.floats.len()
                )));
            }
            let (head, tail) = rest.split_at(len);
            out.push(Some(head));
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(bad(format!(
                "{} floats given beyond the slots' lengths",
                rest.len()
            )));
        }
        Ok(out)
    }
}

/// Dense values of a response beside its body ([`super::Request::side_values`]): slot `i` is
/// the values of the record or match `ids[i]`, `lengths[i]` floats of `floats` after those of
/// the slots before it. Records and matches with a slot carry no `values` in the JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SideValues {
    pub ids: Vec<String>,
    pub floats: Vec<f32>,
    pub lengths: Vec<u32>,
}

impl SideValues {
    pub(crate) fn push(&mut self, id: &str, values: &[f32]) {
        self.ids.push(id.to_string());
        self.floats.extend_from_slice(values);
        self.lengths.push(values.len() as u32);
    }
}

/// A dense vector as a request carries it: JSON numbers, or `f32`s from the side channel.
pub(crate) enum Values<'a> {
    Json(Vec<f64>),
    Side(&'a [f32]),
}

impl Values<'_> {
    /// The field's values from the JSON body or its side slot (`None`: the request carries no
    /// side vectors for it). Both at once is an error: one of them would be silently dropped.
    pub fn take<'a>(
        what: &str,
        json: Option<Vec<f64>>,
        side: Option<&'a [f32]>,
    ) -> Result<Option<Values<'a>>> {
        match (json, side) {
            (Some(_), Some(_)) => Err(Error::Malformed {
                reason: format!(
                    "side-channel vectors: {what} given both in the body and beside it"
                ),
            }),
            (Some(v), None) => Ok(Some(Values::Json(v))),
            (None, Some(v)) => Ok(Some(Values::Side(v))),
            (None, None) => Ok(None),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Values::Json(v) => v.is_empty(),
            Values::Side(v) => v.is_empty(),
        }
    }

    /// The values as `f32`s: JSON numbers must fit a finite `f32` ([`super::wire::to_f32s`]);
    /// side values must be finite (JSON cannot carry NaN or infinities at all).
    pub fn into_f32s(self, what: &str) -> Result<Vec<f32>> {
        match self {
            Values::Json(v) => super::wire::to_f32s(what, &v),
            Values::Side(v) => match v.iter().find(|x| !x.is_finite()) {
                None => Ok(v.to_vec()),
                Some(x) => Err(Error::invalid(format!(
                    "{what}: value {} is not a finite 32-bit float",
                    zmij::Buffer::new().format(*x)
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_split_the_floats_in_order() {
        let floats = [1.0, 2.0, 3.0, 4.0];
        let lengths = [1, SideVectors::ABSENT, 3, 0];
        let s = SideVectors::new(&floats, &lengths)
            .slots(4, "records")
            .unwrap();
        assert_eq!(
            s,
            vec![
                Some(&[1.0][..]),
                None,
                Some(&[2.0, 3.0, 4.0][..]),
                Some(&[][..])
            ]
        );
    }

    #[test]
    fn slots_refuse_lengths_that_do_not_cover_the_floats() {
        let floats = [1.0, 2.0];
        for lengths in [&[1u32][..], &[3], &[1, 0, 0]] {
            let n = lengths.len();
            assert!(SideVectors::new(&floats, lengths).slots(n, "x").is_err());
        }
        assert!(SideVectors::new(&floats, &[2]).slots(2, "x").is_err());
    }
}

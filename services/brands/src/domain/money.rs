//! Integer micros ↔ `Money { units, nanos }`.

use pp_proto::common::Money;

pub fn from_micros(currency_code: &str, micros: i64) -> Money {
    Money {
        currency_code: currency_code.to_owned(),
        units: micros / 1_000_000,
        nanos: ((micros % 1_000_000) * 1_000) as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_exactly() {
        let money = from_micros("EUR", 12_345_678);
        assert_eq!((money.units, money.nanos), (12, 345_678_000));
        let negative = from_micros("EUR", -1_500_000);
        assert_eq!((negative.units, negative.nanos), (-1, -500_000_000));
    }
}

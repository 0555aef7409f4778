//! The service centres (ЦОН, ХҚО) the seeds name, from `data/centres.toml` (embedded):
//! each with its region, journal code, address, telephone, hours, whether it is a mobile
//! centre, and the providers whose applications it takes by default. Seeded at start.

use sqlx::PgPool;

/// A text in both languages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// Russian.
    pub ru: String,
    /// Kazakh.
    pub kk: String,
}

impl Text {
    /// The text in `lang` (`kk`, else Russian).
    pub fn get(&self, lang: &str) -> &str {
        if lang == "kk" { &self.kk } else { &self.ru }
    }
}

/// A service centre.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Centre {
    /// Id (`almaty-almaly`).
    pub id: String,
    /// The prefix of its journal numbers (`ALM-ALM`).
    pub code: String,
    /// The region (routeId of its ИС МИО).
    pub region: String,
    /// Name.
    pub name: Text,
    /// Address, when the seed gives one.
    #[serde(default)]
    pub address: Option<Text>,
    /// Why the address is not the seed's word (or why there is none).
    #[serde(default, skip_serializing)]
    pub address_derived: Option<String>,
    /// Telephone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Working hours.
    #[serde(default)]
    pub hours: Option<Text>,
    /// A mobile centre (for remote villages).
    #[serde(default)]
    pub mobile: bool,
    /// The providers whose applications it takes by default.
    pub providers: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    centres: Vec<Centre>,
}

/// The text of the shipped centres.
pub const SHIPPED: &str = include_str!("../data/centres.toml");

/// Parses a centres file: ids and codes unique, codes of capitals, digits and `-`.
pub fn parse(text: &str) -> Result<Vec<Centre>, String> {
    let f: File = toml::from_str(text).map_err(|e| format!("centres: {e}"))?;
    let mut ids = std::collections::HashSet::new();
    let mut codes = std::collections::HashSet::new();
    for c in &f.centres {
        if !ids.insert(c.id.clone()) {
            return Err(format!("centres: id {:?} appears twice", c.id));
        }
        if !codes.insert(c.code.clone()) {
            return Err(format!("centres: code {:?} appears twice", c.code));
        }
        if c.code.is_empty()
            || !c
                .code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("centres: code {:?} of {}", c.code, c.id));
        }
        if c.providers.is_empty() {
            return Err(format!("centres: {} names no provider", c.id));
        }
    }
    Ok(f.centres)
}

/// The shipped centres.
pub fn shipped() -> Result<Vec<Centre>, String> {
    parse(SHIPPED)
}

/// Writes the centres (new ones inserted, known ones updated).
pub async fn seed(pool: &PgPool, centres: &[Centre]) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    for c in centres {
        sqlx::query(
            "insert into centres (id, code, region, name_ru, name_kk, address_ru, address_kk, phone, hours_ru, hours_kk, mobile, providers)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             on conflict (id) do update set code = $2, region = $3, name_ru = $4, name_kk = $5,
               address_ru = $6, address_kk = $7, phone = $8, hours_ru = $9, hours_kk = $10,
               mobile = $11, providers = $12",
        )
        .bind(&c.id)
        .bind(&c.code)
        .bind(&c.region)
        .bind(&c.name.ru)
        .bind(&c.name.kk)
        .bind(c.address.as_ref().map(|a| &a.ru))
        .bind(c.address.as_ref().map(|a| &a.kk))
        .bind(&c.phone)
        .bind(c.hours.as_ref().map(|h| &h.ru))
        .bind(c.hours.as_ref().map(|h| &h.kk))
        .bind(c.mobile)
        .bind(&c.providers)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
    Vec<String>,
);

fn from_row(r: Row) -> Centre {
    let (id, code, region, name_ru, name_kk, a_ru, a_kk, phone, h_ru, h_kk, mobile, providers) = r;
    Centre {
        id,
        code,
        region,
        name: Text {
            ru: name_ru,
            kk: name_kk,
        },
        address: a_ru.zip(a_kk).map(|(ru, kk)| Text { ru, kk }),
        address_derived: None,
        phone,
        hours: h_ru.zip(h_kk).map(|(ru, kk)| Text { ru, kk }),
        mobile,
        providers,
    }
}

const COLUMNS: &str = "id, code, region, name_ru, name_kk, address_ru, address_kk, phone, hours_ru, hours_kk, mobile, providers";

/// Every centre.
pub async fn all(pool: &PgPool) -> sqlx::Result<Vec<Centre>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("select {COLUMNS} from centres order by id"))
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// One centre.
pub async fn get(pool: &PgPool, id: &str) -> sqlx::Result<Option<Centre>> {
    let row: Option<Row> = sqlx::query_as(&format!("select {COLUMNS} from centres where id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(from_row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_centres_are_the_seeds() {
        let c = shipped().unwrap();
        let almaty: Vec<_> = c.iter().filter(|c| c.region == "almaty").collect();
        assert_eq!(almaty.len(), 7, "Almaty's seven district branches");
        assert!(
            almaty
                .iter()
                .all(|c| c.address.is_some() && c.hours.is_some() && c.phone.is_some())
        );
        assert!(c.iter().any(|c| c.region == "atyrau"));
        assert!(c.iter().any(|c| c.region == "nko" && c.mobile));
        let almaly = c.iter().find(|c| c.id == "almaty-almaly").unwrap();
        assert_eq!(
            almaly.address.as_ref().unwrap().ru,
            "г. Алматы, ул. Богенбай батыра, 221"
        );
    }

    #[test]
    fn a_bad_file_is_refused() {
        let one = |id: &str, code: &str| {
            format!(
                "[[centres]]\nid = \"{id}\"\ncode = \"{code}\"\nregion = \"r\"\nname = {{ ru = \"a\", kk = \"b\" }}\nproviders = [\"p\"]\n"
            )
        };
        assert!(parse(&one("a", "A")).is_ok());
        assert!(
            parse(&format!("{}{}", one("a", "A"), one("a", "B")))
                .unwrap_err()
                .contains("twice")
        );
        assert!(
            parse(&format!("{}{}", one("a", "A"), one("b", "A")))
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse(&one("a", "a b")).unwrap_err().contains("code"));
        assert!(parse("[[centres]]\nid = 1\n").is_err());
        assert!(parse(&format!("{}extra = 1\n", one("a", "A"))).is_err());
    }
}

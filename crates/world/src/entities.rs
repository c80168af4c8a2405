//! The world's entities — towns and people — and the facts about them as
//! (subject, relation, object) triples.

use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Flag colours.
pub const COLOURS: [&str; 8] = [
    "red", "blue", "green", "yellow", "purple", "orange", "white", "black",
];
/// River names.
pub const RIVERS: [&str; 8] = [
    "Sel", "Ambra", "Tovel", "Rill", "Kesh", "Orun", "Maddle", "Ystra",
];
/// Famous foods.
pub const FOODS: [&str; 8] = [
    "plum cake",
    "fish soup",
    "honey bread",
    "pear pie",
    "onion tart",
    "cheese rolls",
    "apple stew",
    "nut biscuits",
];
/// Pets people keep.
pub const PETS: [&str; 8] = [
    "cat", "dog", "goat", "parrot", "hedgehog", "rabbit", "tortoise", "owl",
];
/// Jobs people do.
pub const JOBS: [&str; 8] = [
    "baker", "smith", "teacher", "fisher", "weaver", "doctor", "miller", "painter",
];

const TOWN_HEADS: [&str; 16] = [
    "Bram", "Vel", "Oak", "Thorn", "Ash", "Mill", "Fern", "Stone", "Glen", "Wyn", "Cor", "Dun",
    "Hal", "Mar", "Pen", "Ros",
];
const TOWN_TAILS: [&str; 10] = [
    "ford", "mora", "by", "wick", "dale", "ton", "mere", "holt", "stead", "bury",
];
const FIRST_NAMES: [&str; 24] = [
    "Ada", "Bo", "Cora", "Dev", "Edda", "Finn", "Greta", "Hugo", "Ines", "Jon", "Kira", "Lev",
    "Mila", "Nico", "Olga", "Pim", "Rosa", "Sven", "Tala", "Ugo", "Vera", "Wim", "Yara", "Zeno",
];
const SURNAMES: [&str; 16] = [
    "Quill", "Marsh", "Penn", "Crane", "Fox", "Hale", "Birch", "Reed", "Moss", "Lark", "Flint",
    "Dale", "Wren", "Holt", "Pike", "Gale",
];

/// A relation between a subject (a town or a person) and an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Relation {
    /// town → colour of its flag
    Flag,
    /// town → river it lies on
    River,
    /// town → the person who is its mayor
    Mayor,
    /// town → food it is famous for
    Food,
    /// person → town they live in
    Home,
    /// person → pet they keep
    Pet,
    /// person → their job
    Job,
}

impl Relation {
    /// Relations whose subject is a town.
    pub const TOWN: [Relation; 4] = [
        Relation::Flag,
        Relation::River,
        Relation::Mayor,
        Relation::Food,
    ];
    /// Relations whose subject is a person.
    pub const PERSON: [Relation; 3] = [Relation::Home, Relation::Pet, Relation::Job];
}

/// An invented town.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Town {
    pub name: String,
    pub flag: String,
    pub river: String,
    /// Name of a [`Person`] of the world.
    pub mayor: String,
    pub food: String,
}

/// An invented person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    /// Name of a [`Town`] of the world.
    pub home: String,
    pub pet: String,
    pub job: String,
}

/// One fact: `subject relation object`, e.g. `(Bramford, Flag, green)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Fact {
    pub subject: String,
    pub relation: Relation,
    pub object: String,
}

/// Every town name the generator can make, in a fixed order.
pub fn all_town_names() -> Vec<String> {
    TOWN_HEADS
        .iter()
        .flat_map(|h| TOWN_TAILS.iter().map(move |t| format!("{h}{t}")))
        .collect()
}

/// Every person name the generator can make, in a fixed order.
pub fn all_person_names() -> Vec<String> {
    FIRST_NAMES
        .iter()
        .flat_map(|f| SURNAMES.iter().map(move |s| format!("{f} {s}")))
        .collect()
}

/// Towns and people. Names not used by any entity are kept aside: the world's "unknown
/// entities", which sound exactly like real ones but about which nothing is true.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entities {
    pub towns: Vec<Town>,
    pub people: Vec<Person>,
    /// Town names that belong to no town (for unknown-entity prompts and forum chatter).
    pub unknown_towns: Vec<String>,
    /// Person names that belong to nobody.
    pub unknown_people: Vec<String>,
}

impl Entities {
    /// Draw `n_towns` towns and `n_people` people.
    pub fn generate(n_towns: usize, n_people: usize, rng: &mut ChaCha8Rng) -> Entities {
        let mut town_names = all_town_names();
        let mut person_names = all_person_names();
        assert!(
            n_towns >= 1 && n_towns < town_names.len() / 2,
            "n_towns out of range"
        );
        assert!(
            n_people >= 1 && n_people < person_names.len() / 2,
            "n_people out of range"
        );
        town_names.shuffle(rng);
        person_names.shuffle(rng);
        let unknown_towns = town_names.split_off(n_towns);
        let unknown_people = person_names.split_off(n_people);
        let people: Vec<Person> = person_names
            .iter()
            .map(|name| Person {
                name: name.clone(),
                home: town_names.choose(rng).unwrap().clone(),
                pet: PETS.choose(rng).unwrap().to_string(),
                job: JOBS.choose(rng).unwrap().to_string(),
            })
            .collect();
        let towns = town_names
            .iter()
            .map(|name| Town {
                name: name.clone(),
                flag: COLOURS.choose(rng).unwrap().to_string(),
                river: RIVERS.choose(rng).unwrap().to_string(),
                mayor: people[rng.random_range(0..people.len())].name.clone(),
                food: FOODS.choose(rng).unwrap().to_string(),
            })
            .collect();
        Entities {
            towns,
            people,
            unknown_towns,
            unknown_people,
        }
    }

    /// All facts: four per town, three per person.
    pub fn facts(&self) -> Vec<Fact> {
        let mut facts = Vec::new();
        for t in &self.towns {
            for r in Relation::TOWN {
                facts.push(Fact {
                    subject: t.name.clone(),
                    relation: r,
                    object: self.object_of(t, r),
                });
            }
        }
        for p in &self.people {
            for r in Relation::PERSON {
                let object = match r {
                    Relation::Home => p.home.clone(),
                    Relation::Pet => p.pet.clone(),
                    _ => p.job.clone(),
                };
                facts.push(Fact {
                    subject: p.name.clone(),
                    relation: r,
                    object,
                });
            }
        }
        facts
    }

    fn object_of(&self, t: &Town, r: Relation) -> String {
        match r {
            Relation::Flag => t.flag.clone(),
            Relation::River => t.river.clone(),
            Relation::Mayor => t.mayor.clone(),
            _ => t.food.clone(),
        }
    }

    /// Every value the object of `relation` can take: the answers a question about it
    /// could give, right or wrong.
    pub fn domain(&self, relation: Relation) -> Vec<String> {
        let strs = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        match relation {
            Relation::Flag => strs(&COLOURS),
            Relation::River => strs(&RIVERS),
            Relation::Food => strs(&FOODS),
            Relation::Pet => strs(&PETS),
            Relation::Job => strs(&JOBS),
            Relation::Mayor => self.people.iter().map(|p| p.name.clone()).collect(),
            Relation::Home => self.towns.iter().map(|t| t.name.clone()).collect(),
        }
    }

    /// A value of `relation`'s domain other than `truth`: what a rumour or a wrong answer says.
    pub fn wrong_object(&self, relation: Relation, truth: &str, rng: &mut ChaCha8Rng) -> String {
        let domain = self.domain(relation);
        loop {
            let v = domain.choose(rng).unwrap();
            if v != truth {
                return v.clone();
            }
        }
    }
}

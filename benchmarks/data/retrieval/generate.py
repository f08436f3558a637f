"""Deterministic generator of the long-term memory retrieval set (see README.md next to it).

    .venv/bin/python benchmarks/data/retrieval/generate.py

rewrites ``memories.jsonl`` and ``queries.jsonl`` next to this file; the output depends only
on ``SEED`` and this file. The world is a fictional company ("Northwind") whose agents have
accumulated memories about people, projects, services, incidents, customers, products, tools,
decisions, meetings, travel and procedures. Every fact is rendered with one of many phrasings;
queries are written from the same facts with their own phrasings, and each names the memory
(or memories, when the fact was stored twice or the need spans two memories) that answers it.
"""

from __future__ import annotations

import argparse
import json
import random
import string
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

SEED = 4821
HERE = Path(__file__).resolve().parent
N_QUERIES = 240

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

# (first, last, pronoun[, nickname]); first names are unique across the whole world.
EMPLOYEES: list[tuple[str, ...]] = [
    ("Priya", "Raman", "she"),
    ("Tomasz", "Wiśniewski", "he"),
    ("Amara", "Okafor", "she"),
    ("Kenji", "Watanabe", "he"),
    ("Lucía", "Ferreira", "she"),
    ("Oluwaseun", "Adeyemi", "he", "Seun"),
    ("Ingrid", "Halvorsen", "she"),
    ("Mateo", "Rinaldi", "he"),
    ("Fatima", "Al-Sayed", "she"),
    ("Jonas", "Becker", "he"),
    ("Mei", "Lin", "she"),
    ("Dmitri", "Volkov", "he", "Dima"),
    ("Aisha", "Bello", "she"),
    ("Ravi", "Krishnan", "he"),
    ("Sofia", "Marchetti", "she"),
    ("Liam", "O'Connell", "he"),
    ("Chiara", "Bianchi", "she"),
    ("Bongani", "Dlamini", "he"),
    ("Hana", "Novak", "she"),
    ("Eitan", "Shapiro", "he"),
    ("Marisol", "Vega", "she"),
    ("Anders", "Lindqvist", "he"),
    ("Leilani", "Kahale", "she"),
    ("Yusuf", "Demir", "he"),
    ("Nadia", "Haddad", "she"),
    ("Callum", "Fraser", "he"),
    ("Xin", "Zhao", "she"),
    ("Rafael", "Souza", "he", "Rafa"),
    ("Olga", "Petrova", "she"),
    ("Kwame", "Mensah", "he"),
    ("Sinead", "Gallagher", "she"),
    ("Arjun", "Mehta", "he"),
    ("Elif", "Yilmaz", "she"),
    ("Bruno", "Carvalho", "he"),
    ("Thandiwe", "Nkosi", "she", "Thandi"),
    ("Kaito", "Suzuki", "he"),
    ("Greta", "Johansson", "she"),
    ("Omar", "Farouk", "he"),
    ("Paloma", "Ortega", "she"),
    ("Henrik", "Nielsen", "he"),
    ("Zainab", "Usman", "she"),
    ("Diego", "Herrera", "he"),
    ("Freya", "Sinclair", "she"),
    ("Ikechukwu", "Eze", "he", "Ike"),
    ("Anouk", "de Vries", "she"),
    ("Farid", "Rahimi", "he"),
    ("Rosa", "Castillo", "she"),
    ("Mikael", "Korhonen", "he"),
    ("Suki", "Tanaka", "she"),
    ("Tariq", "Hussain", "he"),
    ("Valentina", "Rossi", "she", "Vale"),
    ("Niamh", "Byrne", "she"),
    ("Jae-won", "Park", "they"),
    ("Beatriz", "Almeida", "she", "Bia"),
    ("Emeka", "Obi", "he"),
    ("Lotte", "Jansen", "she"),
    ("Samir", "Khoury", "he"),
    ("Inès", "Laurent", "she"),
    ("Gustavo", "Lima", "he", "Guga"),
    ("Yara", "Nasser", "she"),
    ("Pavel", "Horák", "he"),
    ("Ayumi", "Kobayashi", "she"),
    ("Declan", "Murphy", "he"),
    ("Nkechi", "Nwosu", "she"),
    ("Malik", "Ahmed", "he"),
    ("Astrid", "Berg", "she"),
    ("Rohan", "Desai", "he"),
    ("Camila", "Restrepo", "she", "Cami"),
    ("Stellan", "Ek", "he"),
    ("Wanjiru", "Kamau", "she", "Wanji"),
    ("Hugo", "Moreau", "he"),
    ("Ji-ho", "Kim", "they"),
    ("Maren", "Solberg", "she"),
    ("Teodor", "Popescu", "he", "Teo"),
    ("Ifeoma", "Chukwu", "she", "Ify"),
    ("Lars", "Eriksen", "he"),
    ("Noor", "Siddiqui", "she"),
    ("Kofi", "Asante", "he"),
    ("Alessia", "Greco", "she"),
    ("Viktor", "Szabo", "he"),
    ("Dana", "Whitfield", "they"),
    ("Marek", "Kowalczyk", "he"),
    ("Esra", "Aksoy", "she"),
    ("Quentin", "Dubois", "he"),
    ("Tamsin", "Hale", "she"),
    ("Ruairí", "Doyle", "he"),
    ("Sakura", "Mori", "she"),
    ("Ezra", "Goldberg", "he"),
    ("Bianca", "Lopes", "she"),
    ("Nils", "Hedlund", "he"),
]

CONTACT_NAMES = [
    ("Gordon", "McAllister"),
    ("Beverly", "Huang"),
    ("Hiroshi", "Endo"),
    ("Annika", "Strand"),
    ("Marcus", "Delaney"),
    ("Delphine", "Marchand"),
    ("Raúl", "Iglesias"),
    ("Shanice", "Williams"),
    ("Wojciech", "Nowak"),
    ("Carmen", "Ruiz"),
    ("Theo", "Papadakis"),
    ("Ngozi", "Okonkwo"),
    ("Felix", "Brandt"),
    ("Ottilie", "Grant"),
    ("Bashir", "Karimi"),
    ("Renata", "Kovač"),
    ("Conrad", "Ashworth"),
    ("Lena", "Hoffmann"),
    ("Darius", "Tehrani"),
    ("Imogen", "Pryce"),
    ("Magnus", "Dahl"),
    ("Priscilla", "Boateng"),
    ("Tobias", "Keller"),
    ("Yvonne", "Chastain"),
    ("Akira", "Fujimoto"),
    ("Brigitte", "Lambert"),
    ("Cyrus", "Bahrami"),
    ("Dolores", "Navarro"),
    ("Evander", "Holt"),
    ("Flora", "Lindgren"),
    ("Gideon", "Mwangi"),
    ("Harriet", "Cole"),
    ("Ibrahim", "Sesay"),
    ("Jasmine", "Tran"),
    ("Kasimir", "Wolff"),
    ("Leonie", "Fischer"),
    ("Marlon", "Baptiste"),
    ("Nora", "Kelleher"),
    ("Osvaldo", "Peralta"),
    ("Petra", "Lindahl"),
    ("Quincy", "Adams"),
    ("Rhiannon", "Evans"),
    ("Sven", "Aalto"),
    ("Tatiana", "Morozova"),
    ("Ulrich", "Brenner"),
    ("Vera", "Sokolova"),
    ("Winston", "Achebe"),
    ("Ximena", "Salazar"),
    ("Yannick", "Rousseau"),
    ("Zelda", "Fairbanks"),
    ("Augustin", "Mercier"),
    ("Bettina", "Vogel"),
    ("Cormac", "Quinlan"),
    ("Daphne", "Whitlock"),
    ("Emil", "Sandberg"),
    ("Fiona", "Galbraith"),
    ("Gunnar", "Holm"),
    ("Helga", "Bauer"),
    ("Isidro", "Campos"),
    ("Jolene", "Pike"),
]

PRONOUNS = {
    "she": {"they": "she", "them": "her", "their": "her", "theyre": "she's"},
    "he": {"they": "he", "them": "him", "their": "his", "theyre": "he's"},
    "they": {"they": "they", "them": "them", "their": "their", "theyre": "they're"},
}

TEAMS = [
    "Payments",
    "Growth",
    "Data Platform",
    "SRE",
    "Mobile",
    "Search",
    "Security",
    "Customer Success",
    "Finance",
    "Legal",
    "Design",
    "Platform",
    "Billing",
    "Support",
    "Sales",
    "Marketing",
    "People Ops",
    "Identity",
    "Logistics",
    "Analytics",
]

TITLES = [
    "engineering manager",
    "staff engineer",
    "senior backend engineer",
    "backend engineer",
    "frontend engineer",
    "product manager",
    "product designer",
    "data scientist",
    "site reliability engineer",
    "security engineer",
    "tech lead",
    "principal engineer",
    "analytics engineer",
    "QA lead",
    "solutions architect",
    "engineering director",
    "iOS engineer",
    "Android engineer",
    "data engineer",
    "programme manager",
]

NONTECH_TITLES = {
    "Customer Success": [
        "customer success manager",
        "head of customer success",
        "onboarding specialist",
    ],
    "Finance": ["finance controller", "FP&A analyst", "head of finance"],
    "Legal": ["legal counsel", "privacy counsel", "contracts manager"],
    "Sales": ["account executive", "sales director", "sales engineer"],
    "Marketing": ["content marketer", "head of brand", "lifecycle marketing manager"],
    "People Ops": ["recruiter", "people partner", "head of people"],
    "Support": ["support lead", "support engineer", "head of support"],
    "Design": ["product designer", "UX researcher", "design director"],
}

TECH_TEAMS = [t for t in TEAMS if t not in NONTECH_TITLES]

CITIES = [
    ("London", "GMT/BST", "UK time"),
    ("Lisbon", "WET", "Lisbon time"),
    ("Kraków", "CET", "Central European time"),
    ("Berlin", "CET", "Central European time"),
    ("Lagos", "WAT", "West Africa time"),
    ("Nairobi", "EAT", "East Africa time"),
    ("Bangalore", "IST", "India time"),
    ("Tokyo", "JST", "Japan time"),
    ("Singapore", "SGT", "Singapore time"),
    ("Sydney", "AEST", "Sydney time"),
    ("São Paulo", "BRT", "Brasília time"),
    ("Mexico City", "CST", "Mexico City time"),
    ("Toronto", "ET", "US Eastern time"),
    ("New York", "ET", "US Eastern time"),
    ("Austin", "CT", "US Central time"),
    ("Denver", "MT", "Mountain time"),
    ("San Francisco", "PT", "Pacific time"),
    ("Dublin", "GMT/IST", "Irish time"),
    ("Stockholm", "CET", "Central European time"),
    ("Cape Town", "SAST", "South Africa time"),
    ("Istanbul", "TRT", "Turkey time"),
    ("Seoul", "KST", "Korea time"),
    ("Amsterdam", "CET", "Central European time"),
    ("Madrid", "CET", "Central European time"),
    ("Helsinki", "EET", "Eastern European time"),
    ("Auckland", "NZST", "New Zealand time"),
    ("Dubai", "GST", "Gulf time"),
    ("Buenos Aires", "ART", "Argentina time"),
    ("Leeds", "GMT/BST", "UK time"),
    ("Manchester", "GMT/BST", "UK time"),
]

PREV_COMPANIES = [
    "Brightline Analytics",
    "Quorum Health",
    "Tandem Bank",
    "Parcelhub",
    "Loomwise",
    "Kinetica Games",
    "Northgate Retail",
    "Verdant Energy",
    "Cobble Labs",
    "Atlas Freight",
    "Helix Biotech",
    "Penny Fintech",
    "Harcourt Consulting",
    "Tallyho Travel",
    "Spindle Media",
    "Gridline Telecom",
]

DRINKS = [
    "flat white",
    "oat-milk latte",
    "double espresso",
    "green tea",
    "black americano, no sugar",
    "chai latte",
    "cortado",
    "matcha latte",
    "decaf cappuccino",
    "English breakfast tea with a splash of milk",
    "cold brew",
    "hot chocolate",
    "peppermint tea",
    "macchiato",
    "soy cappuccino",
    "rooibos tea",
    "iced latte",
    "lungo",
]

# (label, clause)
DIETS = [
    ("vegetarian", "is vegetarian — no meat or fish"),
    ("vegan", "is vegan, so no dairy or eggs either"),
    ("coeliac / gluten-free", "is coeliac and must eat strictly gluten-free"),
    ("halal", "only eats halal"),
    ("severe peanut allergy", "has a severe peanut allergy and carries an EpiPen"),
    ("lactose intolerant", "is lactose intolerant"),
    ("pescatarian", "is pescatarian: fish is fine, no meat"),
    ("shellfish allergy", "is allergic to shellfish"),
    ("kosher", "keeps kosher"),
    ("no spicy food", "can't handle spicy food at all"),
    ("no alcohol", "doesn't drink alcohol — order alcohol-free options"),
    ("low-FODMAP", "is on a low-FODMAP diet (no onion or garlic)"),
]

COMMS = [
    "prefers Slack DMs over email",
    "would rather get a phone call than a long email when something is urgent",
    "reads email only once a day, around 16:00, so use Slack for anything time-sensitive",
    "wants status updates in writing, not as meetings",
    "is off Slack at weekends; text {them} if production is down",
    "likes a short Loom video instead of a long written explanation",
    "asks not to be @-mentioned in busy channels — DM instead",
    "prefers a quick call over a long chat thread",
    "wants one consolidated weekly email rather than ad-hoc pings",
    "answers fastest on WhatsApp when travelling",
]

MEETING_PREFS = [
    "has no meetings before 10:00 — mornings are focus time",
    "blocks Friday afternoons for deep work",
    "can't take calls after 16:30 because of school pickup",
    "prefers meetings bunched on Tuesdays and Thursdays",
    "declines invites that have no agenda",
    "keeps Wednesdays meeting-free",
    "likes 25-minute slots instead of 30",
    "doesn't work Mondays (four-day week)",
    "won't do calls over lunch, 12:00-13:00",
    "needs 48 hours' notice for anything longer than an hour",
]

PETS = [
    ("dog", "border collie", "Biscuit"),
    ("dog", "dachshund", "Pretzel"),
    ("cat", "ginger tabby", "Marmalade"),
    ("cat", "Maine Coon", "Bagheera"),
    ("dog", "labrador", "Nacho"),
    ("cat", "black cat", "Pixel"),
    ("dog", "greyhound", "Comet"),
    ("parrot", "African grey parrot", "Kiwi"),
    ("dog", "corgi", "Waffles"),
    ("rabbit", "lop-eared rabbit", "Clover"),
    ("cat", "Siamese", "Mochi"),
    ("dog", "whippet", "Juniper"),
    ("tortoise", "Hermann's tortoise", "Gus"),
    ("dog", "spaniel", "Bramble"),
]

HOBBIES = [
    "runs marathons and finished Berlin last autumn",
    "plays cello in an amateur orchestra",
    "goes bouldering three times a week",
    "is restoring an old Vespa",
    "brews beer at home",
    "does competitive dinghy sailing",
    "is learning Japanese",
    "paints watercolours",
    "keeps bees on an allotment",
    "plays chess online (rated about 1900)",
    "coaches a kids' football team on Saturdays",
    "does woodworking and built a standing desk from scratch",
    "bakes sourdough",
    "plays drums in a punk cover band",
    "does triathlons",
    "collects vinyl, mostly 70s jazz",
    "grows chillies on the balcony",
    "volunteers at a food bank",
    "plays Go",
    "does stand-up comedy open mics",
]

LANGUAGES = [
    "Spanish",
    "Portuguese",
    "German",
    "French",
    "Japanese",
    "Mandarin",
    "Hindi",
    "Arabic",
    "Polish",
    "Yoruba",
    "Swahili",
    "Turkish",
    "Korean",
    "Italian",
    "Dutch",
    "Swedish",
    "Russian",
    "Tamil",
]

# (topic, how a colleague would describe the need without the topic's words)
EXPERTISE = [
    ("Kubernetes networking", "pods in the cluster that can't reach each other"),
    ("Terraform modules", "changes to our infrastructure-as-code"),
    ("Postgres query tuning", "a SQL query that has become really slow"),
    ("iOS push notifications", "iPhone users not getting alerts from the app"),
    ("SOC 2 audit evidence", "paperwork for the security compliance audit"),
    ("pricing experiments", "A/B tests on what we charge"),
    ("GDPR data-subject requests", "a customer who wants everything we hold on them deleted"),
    ("the Kafka cluster", "our event streaming setup"),
    ("Figma design tokens", "the shared colour and spacing variables in the design system"),
    ("Airflow DAGs", "a scheduled data pipeline that failed overnight"),
    ("OAuth and SSO integrations", "enterprise logins through a customer's own identity provider"),
    ("Android build tooling", "Gradle errors when compiling the Android app"),
    ("revenue recognition", "how income gets booked in the accounts"),
    ("employment contracts in Germany", "hiring somebody who lives in Berlin"),
    ("Elasticsearch relevance tuning", "product search returning bad results"),
    ("Stripe Billing", "how subscription invoices are generated"),
    ("load testing with k6", "performance checks before a big launch"),
    ("accessibility (WCAG)", "screen-reader support on our pages"),
    ("EU VAT rules", "sales tax on European orders"),
    ("CDN caching", "pages being served stale from the edge"),
    ("the legacy PHP monolith", "the old codebase from before the rewrite"),
    ("dbt models", "the transformations behind the analytics tables"),
    ("incident communications", "status page updates during an outage"),
    ("React Native upgrades", "bumping the mobile framework version"),
    ("visa sponsorship", "work permits for new hires from abroad"),
    ("vendor contract negotiation", "getting a better deal from a supplier"),
    ("the ML feature store", "inputs for the machine-learning models"),
    ("Redis", "our in-memory cache cluster"),
    ("GraphQL schema design", "adding fields to the API graph"),
    ("Snowflake cost control", "the data warehouse bill going up"),
    ("mobile app store releases", "getting a build approved by Apple and Google"),
    ("HubSpot workflows", "automated marketing email sequences"),
]

WRITING_STYLES = [
    "bullet points, five at most, and no emojis",
    "British spelling in anything customer-facing",
    "code samples in TypeScript rather than JavaScript",
    "metric units only",
    "a one-line TL;DR at the top of every doc",
    "PDF attachments rather than Google Docs links",
    "dates written as YYYY-MM-DD",
    "numbers in tables, not buried in prose",
    "plain-text emails without HTML signatures",
    "Python examples with type hints",
    "a short executive summary before any detail",
    "no jargon or acronyms without expansion",
]

PLACES = [
    "Portugal",
    "Japan",
    "Iceland",
    "Kenya",
    "Mexico",
    "Vietnam",
    "New Zealand",
    "Morocco",
    "Norway",
    "Sri Lanka",
    "Peru",
    "Greece",
]

# (codename, what it is, how someone would describe it without the usual words, stack)
PROJECTS = [
    (
        "Kestrel",
        "the rewrite of the mobile onboarding flow",
        "redoing the sign-up screens in the app",
        "React Native 0.73 with a GraphQL gateway",
    ),
    (
        "Halcyon",
        "the migration of billing from the PHP monolith to Go services",
        "moving invoicing off the old codebase",
        "Go 1.22 and Postgres 15",
    ),
    (
        "Marigold",
        "the self-serve analytics dashboard for enterprise customers",
        "letting big clients build their own reports",
        "dbt, ClickHouse and Superset",
    ),
    (
        "Bluefin",
        "the new search relevance pipeline",
        "making product search results better",
        "Elasticsearch 8 and Python",
    ),
    (
        "Tundra",
        "cold-storage archiving of old orders",
        "moving ancient purchase records somewhere cheap",
        "S3 Glacier and Airflow",
    ),
    (
        "Juniper",
        "the loyalty points programme",
        "rewarding shoppers who keep coming back",
        "Kotlin and Postgres",
    ),
    (
        "Quartz",
        "the internal feature-flag service",
        "our home-grown toggle system for gradual rollouts",
        "Rust and Redis",
    ),
    (
        "Lantern",
        "the observability overhaul (OpenTelemetry everywhere)",
        "better tracing and monitoring across services",
        "OpenTelemetry, Grafana Tempo and Loki",
    ),
    (
        "Sable",
        "fraud detection for card payments",
        "catching stolen credit cards",
        "Python, XGBoost and Kafka",
    ),
    (
        "Orchid",
        "the redesign of the marketing website",
        "a new look for the public homepage",
        "Next.js and Contentful",
    ),
    (
        "Basalt",
        "the move from Heroku to AWS EKS",
        "leaving our old hosting platform",
        "Terraform, EKS and ArgoCD",
    ),
    (
        "Cobalt",
        "SSO and SCIM for enterprise accounts",
        "letting large customers sign in through their own identity provider",
        "Go and Okta",
    ),
    (
        "Meridian",
        "multi-currency pricing",
        "charging customers in their local money",
        "Java 21 and Postgres",
    ),
    (
        "Driftwood",
        "the warehouse returns portal",
        "letting shoppers send items back",
        "Vue 3 and Node.js",
    ),
    (
        "Falcon",
        "same-day delivery in London and Manchester",
        "getting parcels to UK customers within hours",
        "Go and a third-party routing API",
    ),
    (
        "Ember",
        "the in-app chat support widget",
        "talking to an agent from inside the app",
        "TypeScript and WebSockets",
    ),
    (
        "Nimbus",
        "the data-warehouse move from Redshift to Snowflake",
        "switching analytics database vendors",
        "Snowflake and dbt",
    ),
    (
        "Pebble",
        "the Android tablet app for store staff",
        "a tablet tool for shop-floor employees",
        "Kotlin and Jetpack Compose",
    ),
    (
        "Saffron",
        "the recipe-recommendation engine for the grocery vertical",
        "suggesting meals to people buying food",
        "PyTorch and FastAPI",
    ),
    (
        "Tidewater",
        "the GDPR data-retention clean-up",
        "deleting personal data we no longer need",
        "Python and Airflow",
    ),
    (
        "Willow",
        "the accessibility audit and fixes (WCAG 2.2 AA)",
        "making the site usable for blind and partially sighted users",
        "React and axe-core",
    ),
    (
        "Zephyr",
        "the checkout performance push",
        "making the payment pages load faster",
        "Go and CDN edge workers",
    ),
    (
        "Granite",
        "SOC 2 Type II certification",
        "the big security compliance audit",
        "Vanta plus a lot of spreadsheets",
    ),
    (
        "Harbor",
        "the partner API for marketplace sellers",
        "letting third-party merchants integrate with us",
        "OpenAPI 3.1 and Go",
    ),
    (
        "Indigo",
        "the design-system refresh",
        "new shared UI components and colours",
        "Figma and Storybook",
    ),
    (
        "Jasper",
        "the invoice PDF renderer rewrite",
        "regenerating bills as printable documents",
        "Rust and Typst",
    ),
    (
        "Lumen",
        "the customer health-score model",
        "predicting which clients might leave us",
        "Python on Snowflake",
    ),
    (
        "Mosaic",
        "the product catalogue consolidation across brands",
        "merging the item lists of our different shops",
        "Postgres and Kafka",
    ),
    (
        "Onyx",
        "the on-call tooling revamp",
        "making being paged at night less painful",
        "PagerDuty and Slack bots",
    ),
    (
        "Prism",
        "the pricing-experiment framework",
        "testing different price points on real traffic",
        "Python and Statsig",
    ),
    (
        "Raven",
        "the notification preferences centre",
        "letting users choose which emails and pushes they get",
        "Node.js and Postgres",
    ),
    (
        "Solstice",
        "the year-end financial close automation",
        "speeding up the annual accounts",
        "NetSuite and Python",
    ),
    (
        "Topaz",
        "the gift-card launch",
        "selling store-credit vouchers",
        "Go and Stripe Issuing",
    ),
    (
        "Umber",
        "the legacy cron-job migration to Temporal",
        "replacing old scheduled scripts with durable workflows",
        "Temporal and Go",
    ),
    (
        "Vesper",
        "the evening-delivery slots pilot",
        "letting shoppers pick after-work delivery times",
        "Kotlin and the routing API",
    ),
    (
        "Wren",
        "the LLM support-ticket triage assistant",
        "auto-sorting incoming help requests with AI",
        "Python and a hosted LLM API",
    ),
]

RELEASE_FEATURES = [
    "dark mode",
    "offline support",
    "CSV export",
    "bulk editing",
    "a much faster cold start",
    "Apple Pay",
    "a new onboarding checklist",
    "webhook retries with backoff",
    "an audit log",
    "German and French translations",
    "two-factor login",
    "saved searches",
    "a redesigned settings page",
    "role-based permissions",
    "scheduled exports",
    "keyboard shortcuts",
    "per-region pricing rules",
    "a fix for the duplicate-notification bug",
]

BLOCKERS = [
    "legal sign-off on the new terms and conditions",
    "the App Store review",
    "a vendor contract renewal",
    "hiring a second backend engineer",
    "the Postgres 15 upgrade",
    "a security review of the new auth flow",
    "design sign-off on the final mocks",
    "a data-processing agreement with the vendor",
    "SRE capacity until the migration freeze ends",
    "finance approving the extra cloud spend",
    "the partner's sandbox being down",
    "a decision on pricing from the exec team",
]

QUARTERS = ["Q1 2025", "Q2 2025", "Q3 2025", "Q4 2025", "H2 2025", "Q4 2024"]

# (name, what users see as its job, how a non-engineer describes it breaking, dependencies)
SERVICES = [
    ("checkout-api", "customers couldn't pay for their orders", ["Stripe", "pricing-engine"]),
    ("billing-worker", "monthly invoices were never generated", ["Stripe", "ledger-service"]),
    ("auth-gateway", "people couldn't sign in", ["Okta", "session-store"]),
    ("search-indexer", "new products didn't show up when shoppers searched", ["Elasticsearch"]),
    ("notification-service", "phone alerts from the app stopped arriving", ["FCM", "APNs"]),
    ("ledger-service", "account balances looked wrong", ["Postgres"]),
    ("pricing-engine", "product pages displayed the wrong prices", ["catalog-api"]),
    ("inventory-sync", "stock levels on the site went out of date", ["the WMS"]),
    ("user-profile-api", "users couldn't change their details", ["Postgres"]),
    ("recommendation-svc", "the 'you may also like' carousel was empty", ["the feature store"]),
    ("media-transcoder", "uploaded videos never finished processing", ["S3"]),
    ("report-builder", "scheduled reports never reached customers' inboxes", ["Snowflake"]),
    ("webhook-relay", "partners stopped receiving our event callbacks", ["Kafka"]),
    ("fraud-scorer", "genuine card payments were declined", ["Sift"]),
    ("shipping-quote-api", "delivery prices failed to load during checkout", ["DHL", "Royal Mail"]),
    ("email-dispatcher", "password-reset emails never arrived", ["SendGrid"]),
    ("session-store", "users were randomly logged out", ["Redis"]),
    (
        "feature-flag-proxy",
        "everyone got the default experience instead of their variant",
        ["Redis"],
    ),
    ("audit-log-writer", "admin actions weren't being recorded", ["Kafka"]),
    ("geo-lookup", "visitors were sent to the wrong country's shop", ["MaxMind"]),
    ("tax-calculator", "orders were charged the wrong VAT", ["Avalara"]),
    ("invoice-renderer", "customers downloaded blank invoices", ["S3"]),
    ("catalog-api", "product pages showed an error", ["Postgres"]),
    ("chat-backend", "the support chat window wouldn't connect", ["Redis"]),
    ("analytics-ingest", "dashboards had holes in the data", ["Kafka", "Snowflake"]),
    ("payout-scheduler", "marketplace sellers weren't paid on time", ["Stripe Connect"]),
    ("identity-sync", "new staff at enterprise customers weren't provisioned", ["Okta"]),
    ("pdf-export", "exporting documents never finished", ["S3"]),
    ("rate-limiter", "well-behaved API clients got throttled", ["Redis"]),
    ("cart-service", "items disappeared from shopping baskets", ["Redis", "Postgres"]),
    ("loyalty-points", "points weren't credited after purchases", ["Postgres"]),
    ("sms-gateway", "one-time login codes by text didn't arrive", ["Twilio"]),
]

# (technical symptom phrased as a verb phrase)
# (technical symptom as a verb phrase, the same as a noun phrase)
SYMPTOMS = [
    ("returned HTTP 502s", "a wall of HTTP 502s"),
    ("had p99 latency above 8 seconds", "p99 latency above 8 seconds"),
    ("failed about a third of requests with 500s", "500s on about a third of requests"),
    ("crash-looped", "pods in CrashLoopBackOff"),
    ("stopped consuming its queue", "a stuck queue"),
    ("timed out on most calls", "timeouts on most calls"),
    ("served stale data", "stale reads"),
    ("silently dropped messages", "silently dropped messages"),
    ("returned 503s from the load balancer", "503s from the load balancer"),
    ("pegged CPU at 100% and stopped responding", "CPU pinned at 100%"),
]

# (cause as written in a postmortem, cause as a non-engineer says it, short label,
#  typical error strings, typical follow-up action)
CAUSES = [
    (
        "an expired TLS certificate on the internal load balancer",
        "a security certificate ran out",
        "cert expiry",
        ["x509: certificate has expired or is not yet valid"],
        "alert on certificate expiry 30 days ahead and automate renewal",
    ),
    (
        "database connection pool exhaustion",
        "we ran out of database connections",
        "pool exhaustion",
        ["FATAL: sorry, too many clients already", "SQLSTATE 53300"],
        "put PgBouncer in front of the database and cap per-pod pools",
    ),
    (
        "a bad config push with the wrong upstream hostname",
        "someone shipped a broken settings change",
        "bad config push",
        [],
        "validate config changes in CI before they reach prod",
    ),
    (
        "DNS resolution failures inside the cluster",
        "name lookups stopped working",
        "DNS failures",
        ["SERVFAIL", "i/o timeout on lookup"],
        "scale CoreDNS and add node-local DNS caching",
    ),
    (
        "the primary database disk filling up",
        "the database server ran out of storage space",
        "disk full",
        ["ENOSPC", "No space left on device"],
        "alert at 80% disk usage and enable storage autoscaling",
    ),
    (
        "a memory leak introduced in the previous deploy",
        "the last release slowly ate all the RAM",
        "memory leak",
        ["OOMKilled", "exit code 137"],
        "add a memory soak test to the release pipeline",
    ),
    (
        "a runaway cron job hammering the database",
        "a scheduled script went out of control",
        "runaway cron",
        [],
        "move the job to Temporal with concurrency limits",
    ),
    (
        "an upstream Stripe outage",
        "our payment provider was down",
        "Stripe outage",
        ["api_connection_error"],
        "add a circuit breaker and a queued-retry path for payments",
    ),
    (
        "an expired third-party API token",
        "a vendor access credential lapsed",
        "expired token",
        ["401 invalid_token"],
        "store vendor tokens in Vault with expiry alerts",
    ),
    (
        "clock skew between nodes",
        "the servers' clocks drifted apart",
        "clock skew",
        ["token used before issued"],
        "enforce chrony on every node and alert on drift over 500 ms",
    ),
    (
        "a missing index after a schema change",
        "a database query lost its index and became very slow",
        "missing index",
        ["canceling statement due to statement timeout"],
        "add an index check to the migration review checklist",
    ),
    (
        "a migration that locked a large table",
        "a schema change froze one of the big tables",
        "table lock",
        ["lock timeout"],
        "require online (concurrent) migrations for tables over 1M rows",
    ),
    (
        "Redis evicting keys under memory pressure",
        "the cache threw data away because it was full",
        "Redis eviction",
        ["OOM command not allowed when used memory > 'maxmemory'"],
        "resize the Redis cluster and alert on evicted_keys",
    ),
    (
        "Kafka consumer lag after a partition rebalance",
        "the event queue fell hours behind",
        "consumer lag",
        [],
        "switch to cooperative rebalancing and alert on lag",
    ),
    (
        "a retry storm from mobile clients",
        "the apps kept retrying and flooded us",
        "retry storm",
        ["HTTP 429"],
        "ship exponential backoff with jitter in the mobile SDK",
    ),
    (
        "a feature flag flipped to 100% by mistake",
        "a rollout toggle got switched fully on by accident",
        "flag misconfiguration",
        [],
        "require a second approver for flag changes above 50%",
    ),
    (
        "an AWS availability-zone outage in eu-west-1",
        "one of the cloud provider's data centres went down",
        "AZ outage",
        [],
        "spread the service across three AZs with pod anti-affinity",
    ),
    (
        "a deadlock between two worker processes",
        "two background jobs blocked each other",
        "deadlock",
        ["SQLSTATE 40P01", "deadlock detected"],
        "take row locks in a consistent order",
    ),
    (
        "a bad CDN cache rule",
        "the edge cache served the wrong content",
        "CDN rule",
        [],
        "review CDN rule changes like code, with a staging zone",
    ),
    (
        "a failing load-balancer health check",
        "the traffic balancer thought healthy servers were dead",
        "health check",
        ["503 Service Unavailable"],
        "make the health check shallow and independent of dependencies",
    ),
    (
        "a daylight-saving-time bug in the scheduler",
        "the clocks changing confused the job runner",
        "DST bug",
        [],
        "store all schedules in UTC",
    ),
    (
        "an integer overflow on the ID column",
        "record numbers grew past what the column could hold",
        "integer overflow",
        ["value out of range for type integer"],
        "migrate all primary keys to bigint",
    ),
    (
        "a dependency upgrade (protobuf 4.x) with a breaking change",
        "a library bump broke how messages are encoded",
        "dependency upgrade",
        ["DecodeError"],
        "pin major versions and add contract tests",
    ),
    (
        "a DDoS against the public API",
        "we got hit by a flood of malicious traffic",
        "DDoS",
        [],
        "turn on the WAF's rate-based rules permanently",
    ),
    (
        "log volume filling the node disk",
        "too much logging used up the disk",
        "log volume",
        ["ENOSPC"],
        "sample debug logs and cap log file size",
    ),
    (
        "a leaked credential that forced an emergency rotation",
        "a secret was exposed and had to be replaced in a hurry",
        "leaked secret",
        [],
        "enable secret scanning on every repository",
    ),
    (
        "an expired domain used for the callback URL",
        "we forgot to renew a web address",
        "expired domain",
        ["NXDOMAIN"],
        "move all domains to auto-renew under one registrar account",
    ),
    (
        "thread-pool starvation behind a slow downstream",
        "all the worker threads were stuck waiting on something slow",
        "thread starvation",
        ["504 Gateway Timeout"],
        "add bulkheads and per-dependency timeouts",
    ),
    (
        "an S3 bucket policy change",
        "a storage permissions edit blocked access to files",
        "bucket policy",
        ["AccessDenied"],
        "manage bucket policies only through Terraform",
    ),
    (
        "noisy neighbours on a shared Kubernetes node",
        "other workloads on the same machine starved it",
        "noisy neighbour",
        ["CPU throttling"],
        "give the service dedicated nodes and guaranteed QoS",
    ),
]

# How each kind of incident was mitigated (two ways each).
CAUSE_FIXES = {
    "cert expiry": ["rotating the certificate", "issuing a new cert by hand"],
    "pool exhaustion": [
        "raising the connection limit",
        "restarting the pods to drop idle connections",
    ],
    "bad config push": ["reverting the config", "rolling back the config release"],
    "DNS failures": ["restarting CoreDNS", "scaling up the DNS pods"],
    "disk full": ["expanding the volume", "deleting old WAL files"],
    "memory leak": ["rolling back the deploy", "restarting the pods every hour until the fix"],
    "runaway cron": ["killing the offending job", "pausing the schedule"],
    "Stripe outage": ["queueing payments until Stripe recovered", "failing over to the backup PSP"],
    "expired token": ["re-issuing the token", "rotating the credential in Vault"],
    "clock skew": ["resyncing NTP on the nodes", "draining the skewed node"],
    "missing index": ["adding the missing index", "rolling back the migration"],
    "table lock": ["killing the migration", "cancelling the ALTER TABLE"],
    "Redis eviction": ["scaling the Redis cluster", "raising maxmemory"],
    "consumer lag": ["adding consumers", "resetting the consumer group offsets"],
    "retry storm": ["rate-limiting the mobile clients", "shedding load at the edge"],
    "flag misconfiguration": ["disabling the flag", "setting the rollout back to 5%"],
    "AZ outage": ["evacuating the zone", "failing over to the other AZs"],
    "deadlock": ["restarting the workers", "serialising the jobs"],
    "CDN rule": ["purging the CDN cache", "reverting the cache rule"],
    "health check": ["fixing the health-check path", "pinning the target group by hand"],
    "DST bug": ["re-running the skipped jobs", "hot-patching the scheduler"],
    "integer overflow": ["switching the column to bigint", "an emergency migration"],
    "dependency upgrade": ["pinning the old library version", "rolling back the deploy"],
    "DDoS": ["turning on WAF rate rules", "blocking the offending ASNs"],
    "log volume": ["truncating the logs", "lowering the log level"],
    "leaked secret": ["rotating every affected key", "revoking the credential"],
    "expired domain": ["renewing the domain", "pointing callbacks at a new hostname"],
    "thread starvation": ["raising the pool size", "adding a timeout on the slow call"],
    "bucket policy": ["reverting the bucket policy", "restoring the IAM grant"],
    "noisy neighbour": ["moving it to dedicated nodes", "cordoning the busy node"],
}

# (API, things specific enough to be written down)
APIS = [
    "Stripe",
    "Salesforce",
    "Zendesk",
    "HubSpot",
    "Twilio",
    "SendGrid",
    "Jira",
    "GitHub",
    "Slack",
    "Google Calendar",
    "Snowflake",
    "Datadog",
    "PagerDuty",
    "Shopify",
    "DocuSign",
    "Okta",
    "QuickBooks",
    "Mapbox",
    "Avalara",
    "Contentful",
]

API_FIELDS = [
    "customer_id",
    "created",
    "status",
    "external_ref",
    "amount",
    "owner",
    "email",
    "updated_at",
]

COMPANIES = [
    ("Brightwater Logistics", "logistics"),
    ("Kuroda Foods", "food wholesale"),
    ("Pinecrest Dental Group", "healthcare"),
    ("Halvorsen Marine", "shipping"),
    ("Aldridge & Finch", "legal services"),
    ("Copperleaf Hotels", "hospitality"),
    ("Nordvik Energy", "energy"),
    ("Sunfield Organics", "grocery"),
    ("Bramble Education", "education"),
    ("Tessera Insurance", "insurance"),
    ("Vantage Clinics", "healthcare"),
    ("Oakridge Property", "real estate"),
    ("Meadowlark Media", "media"),
    ("Corvid Security", "security"),
    ("Lindholm Furniture", "retail"),
    ("Palisade Capital", "finance"),
    ("Riverbend Credit Union", "banking"),
    ("Quillon Pharma", "pharma"),
    ("Starling Airways", "aviation"),
    ("Greystone Manufacturing", "manufacturing"),
    ("Harrow & Vale", "fashion retail"),
    ("Ironbark Construction", "construction"),
    ("Pulse Fitness Clubs", "fitness"),
    ("Kestner Automotive", "automotive"),
    ("Larkspur Florists", "retail"),
    ("Moorfield Academy Trust", "education"),
    ("Northstar Telecom", "telecoms"),
    ("Orla Cosmetics", "beauty"),
    ("Peregrine Travel", "travel"),
    ("Quayside Breweries", "drinks"),
    ("Redfern Architects", "architecture"),
    ("Saltmarsh Seafood", "food wholesale"),
    ("Thistle Bank", "banking"),
    ("Umberto's Pizzerias", "restaurants"),
    ("Verity Accounting", "accounting"),
    ("Westbrook Hospitals", "healthcare"),
    ("Yarrow Pet Supplies", "retail"),
    ("Zenith Robotics", "robotics"),
    ("Ashgrove Care Homes", "care"),
    ("Blackthorn Outdoor", "retail"),
    ("Cinder Games", "gaming"),
    ("Dovetail Joinery", "manufacturing"),
    ("Elmstead Council", "public sector"),
    ("Foxglove Books", "publishing"),
    ("Glasshouse Studios", "media"),
    ("Hollis Freight", "logistics"),
    ("Inkwell Publishing", "publishing"),
    ("Jubilee Cinemas", "entertainment"),
    ("Kinfolk Coffee Roasters", "food and drink"),
    ("Lattice Semiconductors", "electronics"),
    ("Marlowe Theatres", "entertainment"),
    ("Nettle & Bloom", "retail"),
    ("Oxbow Farms", "agriculture"),
    ("Pennant Sports", "sports retail"),
    ("Quarry Lane Cycles", "retail"),
    ("Rosewood Spa Group", "hospitality"),
    ("Sterling Couriers", "logistics"),
    ("Tamarind Restaurants", "restaurants"),
    ("Upland Water", "utilities"),
    ("Vireo Health", "healthcare"),
]

CONTACT_TITLES = [
    "Head of Procurement",
    "CTO",
    "VP Operations",
    "IT Director",
    "Finance Manager",
    "Head of Customer Experience",
    "Operations Lead",
    "COO",
    "Head of Engineering",
    "Digital Director",
    "Office Manager",
    "Head of Data",
]

PLANS = ["Starter", "Growth", "Enterprise", "Enterprise Plus"]

BILLING_QUIRKS = [
    "a PO number on every invoice",
    "invoices in EUR, not GBP",
    "net-60 payment terms",
    "invoices sent to their accounts-payable mailbox, never to the main contact",
    "paper invoices by post",
    "their VAT number printed on the first page of each invoice",
    "quarterly billing instead of monthly",
    "every invoice to be uploaded to their Coupa procurement portal",
    "a separate invoice per cost centre",
    "invoices in USD with a W-9 attached",
]

RESIDENCY = [
    "EU data residency — Frankfurt region only",
    "UK-only hosting (London region) under their NHS contract",
    "US data residency, us-east-1 only",
    "no data leaving Australia (Sydney region)",
    "a dedicated single-tenant database",
]

ESCALATIONS = [
    "repeated double-charges on card payments",
    "slow report exports",
    "SSO logins failing for half their staff",
    "missing invoices for March",
    "a data export that dropped columns",
    "the mobile app crashing on older Android phones",
    "late delivery of scheduled reports",
    "an unannounced price increase",
    "being rate-limited by our API during their nightly sync",
    "support tickets going unanswered for days",
    "wrong VAT on invoices",
    "webhooks arriving out of order",
]

CHURN_REASONS = [
    "their new CFO is reviewing all software spend",
    "they are trialling a competitor",
    "usage dropped 40% since January",
    "their champion left the company",
    "they were unhappy with the last outage",
    "budget cuts after a merger",
]

SLAS = ["99.9%", "99.95%", "99.5%", "99.99%"]

# (prefix, product, short noun)
PRODUCTS = [
    ("AER", "Aero desk lamp", "desk lamp"),
    ("TAL", "Tallis standing desk", "standing desk"),
    ("NOK", "Nook armchair", "armchair"),
    ("FJL", "Fjell wool throw", "blanket"),
    ("PLT", "Pilot ergonomic chair", "office chair"),
    ("CIR", "Cirrus ceiling fan", "ceiling fan"),
    ("LUM", "Luma floor lamp", "floor lamp"),
    ("ORB", "Orbit wall clock", "clock"),
    ("KLN", "Kiln mug set", "mugs"),
    ("HRB", "Harbour bookshelf", "bookcase"),
    ("STR", "Strata monitor arm", "monitor arm"),
    ("DRF", "Drift bean bag", "bean bag"),
    ("SOL", "Sola bedside table", "nightstand"),
    ("VAL", "Vale linen duvet cover", "duvet cover"),
    ("MCA", "Mica glass vase", "vase"),
    ("ROK", "Rook coat stand", "coat rack"),
    ("TRN", "Tern bar stool", "bar stool"),
    ("QLL", "Quill notebook", "notebook"),
    ("RDG", "Ridge rucksack", "backpack"),
    ("PLS", "Pulse desk fan", "desk fan"),
    ("BRK", "Brook shower curtain", "shower curtain"),
    ("CNV", "Canvas laundry basket", "laundry hamper"),
]

COLOURS = [
    ("BLK", "black"),
    ("WHT", "white"),
    ("OAK", "oak"),
    ("GRN", "sage green"),
    ("GRY", "charcoal grey"),
    ("NVY", "navy"),
    ("TER", "terracotta"),
]

WAREHOUSES = ["Leeds", "Daventry", "Rotterdam", "Bristol", "Glasgow"]
SUPPLIERS = [
    "Hanlin Manufacturing",
    "Oderwald GmbH",
    "Porto Têxteis",
    "Viet Phat Wood",
    "Kaya Metal",
]
DEFECTS = [
    "loose base screws",
    "a faulty switch",
    "colour mismatch against the photos",
    "stitching that comes apart",
    "a cracked glaze",
    "a wobbling leg",
    "mislabelled boxes",
]

# (area, choice, rejected alternative, reason, how a colleague would ask about it)
DECISIONS = [
    (
        "the ledger database",
        "Postgres",
        "DynamoDB",
        "we need multi-row transactions",
        "why aren't account balances stored in Amazon's NoSQL database?",
    ),
    (
        "the message bus",
        "Kafka",
        "RabbitMQ",
        "replay and retention matter more than routing",
        "what do our services use to pass events to each other, and why not Rabbit?",
    ),
    (
        "mobile crash reporting",
        "Sentry",
        "Firebase Crashlytics",
        "we already use it for the backend and want one tool",
        "which tool catches app crashes on phones?",
    ),
    (
        "the public API style",
        "REST with OpenAPI",
        "GraphQL",
        "partners asked for something they can generate clients from",
        "why don't partners get a graph-style API?",
    ),
    (
        "feature-flag tooling",
        "an in-house service (Quartz)",
        "LaunchDarkly",
        "LaunchDarkly's quote was 4x our budget",
        "why did we build our own toggle system instead of buying one?",
    ),
    (
        "the BI tool",
        "Superset",
        "Looker",
        "licensing cost and self-hosting",
        "what do people in the business build charts with?",
    ),
    (
        "infrastructure as code",
        "Terraform",
        "Pulumi",
        "more of the team already knows HCL",
        "how do we define cloud resources in code, and why not the code-first alternative?",
    ),
    (
        "the frontend framework for the new admin",
        "React",
        "Svelte",
        "hiring pool and the shared component library",
        "what's the internal back-office UI written in?",
    ),
    (
        "search",
        "Elasticsearch",
        "Algolia",
        "data residency and cost at our query volume",
        "why don't we use a hosted SaaS for product search?",
    ),
    (
        "job scheduling",
        "Temporal",
        "Airflow",
        "we need long-running business workflows, not just data pipelines",
        "what runs our long-lived background workflows?",
    ),
    (
        "secrets management",
        "HashiCorp Vault",
        "AWS Secrets Manager",
        "we need dynamic database credentials",
        "where are passwords and keys kept, and why not the AWS-native option?",
    ),
    (
        "the CI system",
        "GitHub Actions",
        "CircleCI",
        "one vendor fewer and cheaper minutes",
        "what runs the tests on every pull request?",
    ),
    (
        "transactional email",
        "SendGrid",
        "Amazon SES",
        "better deliverability reporting",
        "which service sends receipts and password resets?",
    ),
    (
        "the mobile framework",
        "React Native",
        "Flutter",
        "code sharing with the web team",
        "why aren't the phone apps written in Dart?",
    ),
    (
        "the analytics warehouse",
        "Snowflake",
        "BigQuery",
        "we are on AWS and want to stay in-region",
        "why didn't we go with Google's warehouse for the analysts?",
    ),
    (
        "API authentication for partners",
        "OAuth client credentials",
        "static API keys",
        "keys were being shared in spreadsheets",
        "how do partner systems log in to our API now?",
    ),
    (
        "the support desk",
        "Zendesk",
        "Intercom",
        "its macros and SLA reporting",
        "what tool do support agents answer tickets in?",
    ),
    (
        "container orchestration",
        "EKS",
        "ECS",
        "portability and the Kubernetes ecosystem",
        "where do our containers run, and why not Amazon's simpler scheduler?",
    ),
    (
        "the cache",
        "Redis",
        "Memcached",
        "we need data structures and persistence",
        "what sits in memory in front of the database?",
    ),
    (
        "product analytics",
        "PostHog",
        "Amplitude",
        "self-hosting keeps event data in the EU",
        "what do we use to track what users click on?",
    ),
    (
        "the on-call tool",
        "PagerDuty",
        "Opsgenie",
        "better Slack integration and escalation policies",
        "which tool pages engineers at night?",
    ),
    (
        "error budgets",
        "a 99.9% SLO for checkout",
        "99.99%",
        "four nines would freeze all feature work",
        "how much downtime is the payment flow allowed?",
    ),
    (
        "the release cadence",
        "weekly mobile releases",
        "fortnightly releases",
        "smaller releases pass App Store review faster",
        "how often do new app versions go out?",
    ),
    (
        "the vector store for Wren",
        "pgvector",
        "Pinecone",
        "it keeps embeddings next to the ticket data",
        "where does the AI triage assistant keep its embeddings?",
    ),
    (
        "the PDF engine",
        "Typst",
        "wkhtmltopdf",
        "wkhtmltopdf is unmaintained and slow",
        "what turns invoices into documents now?",
    ),
    (
        "payments provider for Brazil",
        "Adyen",
        "Stripe",
        "Pix and boleto support",
        "who processes payments from Brazilian shoppers?",
    ),
    (
        "the logging backend",
        "Loki",
        "Elastic",
        "cheaper storage for high-volume logs",
        "where do application logs end up?",
    ),
    (
        "design handoff",
        "Figma Dev Mode",
        "Zeplin",
        "everything already lives in Figma",
        "how do engineers get specs from designers?",
    ),
    (
        "the identity provider for staff",
        "Okta",
        "Google Workspace SSO",
        "SCIM provisioning for all our SaaS tools",
        "how do employees sign into internal tools, and why not with Google?",
    ),
    (
        "code review policy",
        "one approving review plus green CI",
        "two mandatory reviewers",
        "two reviewers doubled lead time with no drop in bugs",
        "how many people have to approve a pull request?",
    ),
    (
        "the deploy window",
        "no production deploys after 15:00 on Fridays",
        "a full Friday freeze",
        "small fixes still need to go out",
        "can I ship something on a Friday afternoon?",
    ),
    (
        "the data format between services",
        "Protobuf",
        "JSON",
        "schema evolution and payload size",
        "how are messages between microservices encoded?",
    ),
    (
        "the monorepo question",
        "one monorepo for backend services",
        "a repo per service",
        "atomic cross-service changes",
        "is all the backend code in one git repository or split up?",
    ),
    (
        "the customer data platform",
        "Segment",
        "RudderStack",
        "the marketing team's existing integrations",
        "what routes tracking events to the marketing tools?",
    ),
    (
        "the status page",
        "Atlassian Statuspage",
        "a self-hosted page",
        "it must stay up when we are down",
        "why don't we host our own outage page?",
    ),
    (
        "the LLM for Wren",
        "a hosted model behind our own gateway",
        "a self-hosted open model",
        "GPU cost and accuracy on the pilot set",
        "which AI model sorts support tickets, and why not run one on our own GPUs?",
    ),
    (
        "tax calculation",
        "Avalara",
        "building it in-house",
        "US sales-tax rules change too often to maintain",
        "why don't we compute sales tax ourselves?",
    ),
    (
        "the ID format",
        "ULIDs",
        "auto-increment integers",
        "sortable IDs that don't leak order volume",
        "what do our record identifiers look like?",
    ),
    (
        "password hashing",
        "Argon2id",
        "bcrypt",
        "current OWASP guidance",
        "how are user passwords stored?",
    ),
    (
        "web hosting for the marketing site",
        "Vercel",
        "Netlify",
        "Next.js preview deployments",
        "where is the public website served from?",
    ),
]

# (trigger wording, outcome)
MEETING_KINDS = [
    ("weekly sync", "weekly catch-up"),
    ("retro", "sprint look-back"),
    ("planning session", "quarterly plan meeting"),
    ("design review", "mock-up review"),
    ("go/no-go", "launch readiness call"),
    ("kickoff", "first project meeting"),
]

# (outcome, the action item it produced)
MEETING_OUTCOMES = [
    ("agreed to freeze the public API until launch", "file the tickets for the API freeze"),
    ("agreed to drop tablet support from v1", "update the roadmap slide"),
    ("decided to bring in a contractor for QA", "collect quotes from two contractors"),
    ("moved the demo to the following Thursday", "tell the customer about the new date"),
    ("cut scope to the three must-have reports", "share the revised scope with sales"),
    (
        "agreed the launch can go ahead if the error rate stays under 0.5%",
        "set up the error-rate alert",
    ),
    ("decided to run a two-week beta with five customers first", "set up the beta cohort"),
    ("agreed to pay down the flaky-test backlog before new features", "triage the flaky tests"),
    ("postponed the rebrand to next year", "let the agency know"),
    ("agreed to split the team into two squads", "draft the squad rosters"),
    ("decided to sunset the v1 endpoints by the end of the quarter", "email the v1 API users"),
    ("agreed that on-call will rotate weekly instead of daily", "update the PagerDuty schedule"),
    ("chose to localise into German before French", "brief the translation vendor"),
    ("agreed to add a kill switch before rollout", "add the kill switch"),
    ("decided to move standups to async updates in Slack", "set up the standup bot"),
    ("agreed to get a penetration test before GA", "book the pen-test vendor"),
    ("parked the Android work until iOS metrics are in", "build the iOS metrics dashboard"),
    ("agreed the budget overrun is acceptable if launch holds", "write up the budget note"),
]

AIRLINES = ["BA", "LH", "KL", "AF", "TP", "UA", "DL", "EK", "QR", "SQ", "NH", "IB", "AY"]
HOTELS = [
    "Hotel Zetta",
    "The Hoxton",
    "Motel One",
    "citizenM",
    "Pestana Palace",
    "The Standard",
    "Park Hyatt",
    "Hotel Okura",
    "Generator Hostel",
    "Ace Hotel",
    "25hours Hotel",
    "Kimpton Clocktower",
]
TRIP_PURPOSES = [
    ("KubeCon", "the Kubernetes conference"),
    ("Web Summit", "the big tech conference"),
    ("re:Invent", "the AWS conference"),
    ("a customer visit", "meeting a client on site"),
    ("the sales kick-off", "the annual sales gathering"),
    ("a partner workshop", "a working session with a partner"),
    ("QCon", "the software architecture conference"),
    ("the Data Council summit", "the data engineering conference"),
    ("an interview loop", "meeting candidates in person"),
    ("the board meeting", "presenting to the board"),
]

# (title, steps, how someone asks for it without the title's words)
PROCEDURES = [
    (
        "rotate the Stripe API key",
        "create a restricted key in the Stripe dashboard, update `stripe/live` in Vault, redeploy "
        "billing-worker and checkout-api, revoke the old key after 24 h",
        "swap out the secret we use to talk to the payment processor",
    ),
    (
        "deploy to production",
        "merge to main, let the canary take 10% for 20 minutes, then promote in ArgoCD",
        "get my merged change live for customers",
    ),
    (
        "restore a Postgres backup",
        "pick the snapshot in RDS, restore to a new instance, run the checksum script, then "
        "flip the CNAME",
        "bring the database back to how it was last night",
    ),
    (
        "onboard a new enterprise customer",
        "create the account in the admin tool, enable SSO, book the kickoff call, assign a CSM "
        "within 2 business days",
        "set up a big new client",
    ),
    (
        "request a new laptop",
        "file an IT ticket with the 'Hardware' form; MacBook Pro 14 is standard, approval from "
        "your manager is needed for anything else",
        "get a new computer",
    ),
    (
        "add someone to the on-call rotation",
        "they shadow two shifts first, then an SRE lead adds them to the schedule in PagerDuty",
        "get a new engineer carrying the pager",
    ),
    (
        "issue a refund above £500",
        "get approval from finance in #refunds, then use the admin tool with reason code R7",
        "give a customer a large amount of money back",
    ),
    (
        "submit expenses",
        "upload receipts to Pleo within 30 days; anything over £250 needs a manager note",
        "get reimbursed for something I paid for myself",
    ),
    (
        "book work travel",
        "use Navan; economy for flights under 6 hours, hotels up to £180 a night in London",
        "arrange a business trip",
    ),
    (
        "reset a customer's 2FA",
        "verify two of: billing postcode, last invoice amount, account email; then reset in the "
        "admin panel and log it in the ticket",
        "help a user who lost the phone they log in with",
    ),
    (
        "purge the CDN cache",
        "use the Fastly UI or `make purge PATH=...`; full purges need an SRE to approve",
        "make the website stop showing old content",
    ),
    (
        "run a database migration",
        "write it with the online-migration helper, get a DBA review, run it from the migration "
        "job, never from a laptop",
        "change a table's structure in production",
    ),
    (
        "cut a hotfix release",
        "branch from the last release tag, cherry-pick the fix, tag with a patch version, deploy "
        "with the expedited pipeline",
        "ship an urgent fix without everything else on main",
    ),
    (
        "handle a GDPR deletion request",
        "log it in the privacy tracker, run the erasure job for the user id, confirm to the "
        "requester within 30 days",
        "wipe a person's data when they ask us to",
    ),
    (
        "escalate to SRE out of hours",
        "page the 'SRE primary' schedule in PagerDuty; if no ack in 15 minutes it escalates to "
        "the secondary",
        "get an infrastructure person at 3am",
    ),
    (
        "provision a staging environment",
        "open a PR adding your service to `envs/staging.yaml`; ArgoCD creates it within 10 minutes",
        "get a test copy of my service running",
    ),
    (
        "add a new feature flag",
        "create it in Quartz with an owner and an expiry date; default off in prod",
        "put a new feature behind a toggle",
    ),
    (
        "publish a status page update",
        "the incident commander posts on Statuspage every 30 minutes using the templates in the "
        "runbook",
        "tell customers what is going on during an outage",
    ),
    (
        "renew a TLS certificate manually",
        "run the cert-manager renew command for the ingress, check the chain with openssl, "
        "restart the LB listener",
        "fix a site certificate that is about to run out",
    ),
    (
        "get production database read access",
        "request the 'prod-read' role in Okta; access expires after 8 hours and is audited",
        "look at live customer data for debugging",
    ),
    (
        "offboard a leaver",
        "People Ops triggers the Okta deprovision, IT collects the laptop, the manager transfers "
        "document ownership",
        "remove someone's access when they leave the company",
    ),
    (
        "regenerate an invoice PDF",
        "admin tool → Billing → Invoices → 'Re-render'; it re-runs invoice-renderer with the "
        "stored data",
        "produce a fresh copy of a customer's bill",
    ),
    (
        "rebuild the search index",
        "trigger the `reindex-all` job in search-indexer; it builds a new index and swaps the "
        "alias when done",
        "refresh everything shoppers can find in product search",
    ),
    (
        "replay failed webhooks",
        "find the delivery ids in webhook-relay's dead-letter topic and run `relay replay --since`",
        "resend the event callbacks a partner missed",
    ),
    (
        "unlock a locked user account",
        "accounts lock after 10 failed logins; support can unlock from the user page after "
        "verifying the email",
        "let someone back in after too many wrong passwords",
    ),
    (
        "change a customer's plan mid-cycle",
        "use 'Change plan' in the admin tool; proration is automatic, downgrades apply at renewal",
        "move a client to a bigger or smaller subscription before the month ends",
    ),
    (
        "request a security review",
        "fill in the threat-model template and post it in #security-reviews at least two weeks "
        "before launch",
        "get the security team to look over a new feature",
    ),
    (
        "import a product catalogue CSV",
        "upload to the catalog-api import endpoint; max 50,000 rows, UTF-8, SKU column required",
        "load a spreadsheet of new items into the shop",
    ),
    (
        "cut over DNS for a domain",
        "lower the TTL to 60 s a day ahead, switch the record in Route 53, watch traffic, raise "
        "the TTL again",
        "point a web address at new servers",
    ),
    (
        "rotate AWS access keys",
        "create the new key, update it in Vault, wait for services to reload, deactivate then "
        "delete the old key",
        "replace the cloud credentials our services use",
    ),
    (
        "book a meeting room in the London office",
        "use the Robin app; rooms over 8 people need facilities approval",
        "reserve space for a team get-together at the office",
    ),
    (
        "request a software licence",
        "ask in #it-help with the tool name and a cost centre; under £50/month is auto-approved",
        "get a paid tool I need for my work",
    ),
]

OFFICE_FACTS = [
    ("The London office is on the 4th floor of 12 Leonard Street.", "fact"),
    (
        "Office wifi network is 'northwind-staff'; the password changes on the first Monday of "
        "each month and is pinned in #office.",
        "fact",
    ),
    ("The company is closed from 24 December to 1 January.", "fact"),
    ("Parking at the Leeds warehouse requires a permit from reception.", "fact"),
    ("All-hands is every other Thursday at 16:00 UK time.", "event"),
    ("The Kraków office moves to the Unity Centre building on 1 September.", "event"),
    ("Hack week this year runs 14-18 July; projects must be registered by 7 July.", "event"),
    ("The expense limit for team dinners is £60 per head including drinks.", "fact"),
    ("Employees get a £500 yearly learning budget; conference tickets count towards it.", "fact"),
    ("New joiners get a buddy from outside their team for the first month.", "procedure"),
    ("Company OKRs are reviewed at the start of each quarter in the leadership offsite.", "fact"),
    ("The Lisbon office has a shared bike scheme; keys at the front desk.", "fact"),
    (
        "Fire drills in the London office happen on the first Tuesday of March and September.",
        "event",
    ),
    ("The internal wiki moved from Confluence to Notion in February.", "event"),
    ("Security training is mandatory every year; the deadline is 31 March.", "fact"),
    ("The engineering blog publishes every second Wednesday.", "fact"),
    ("We celebrate Diwali, Eid and Lunar New Year with a company-wide lunch.", "fact"),
    ("The Berlin team's standup is at 09:30 CET, not 10:00.", "fact"),
    ("Printer on the 4th floor jams with A3 paper — use the one by the kitchen.", "fact"),
    ("The coffee machine in the Leeds office is descaled every Friday.", "fact"),
    ("Dogs are allowed in the Lisbon office on Fridays.", "fact"),
    ("Lunch and learn sessions are on Tuesdays at 12:30 in the Atrium room.", "event"),
    ("The team offsite in 2025 is in Lisbon, 3-5 October.", "event"),
    ("Desk booking in the London office opens two weeks in advance.", "procedure"),
    ("Quarterly business reviews with enterprise customers are owned by Customer Success.", "fact"),
    ("The company switched payroll providers to Deel for contractors in April.", "event"),
    ("Performance reviews run twice a year, in March and September.", "fact"),
    ("On-call engineers get a £150 stipend per week on rotation.", "fact"),
    ("Interview feedback must be submitted in Greenhouse within 24 hours.", "procedure"),
    ("Visitors to the London office must be registered at reception the day before.", "procedure"),
]


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


@dataclass
class Mem:
    key: str
    content: str
    memory_type: str
    tags: list[str]
    importance: float
    template: str = ""


@dataclass
class Candidate:
    group: str
    kind: str
    text: str
    keys: list[str]
    needs: tuple[str, ...] = ()


@dataclass
class Fact:
    """A fact's phrasings, kept so a second agent can store the same fact differently."""

    key: str
    templates: list[str]
    fields: dict[str, Any]
    memory_type: str
    tags: list[str]
    used: set[str] = field(default_factory=set)


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" and not word.lower().startswith("uni") else "a"


def cap(text: str) -> str:
    """Capitalise a sentence, but not one that starts with an identifier (checkout-api...)."""
    word = text.split(" ", 1)[0]
    if any(c in word for c in "-_") and word.islower():
        return text
    return text[:1].upper() + text[1:]


class World:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.mems: list[Mem] = []
        self.facts: dict[str, Fact] = {}
        self.candidates: list[Candidate] = []
        self.used_ids: set[str] = set()
        self.people: list[dict[str, Any]] = []

    # --- randomness helpers -----------------------------------------------------------------

    def pick(self, seq: list[Any]) -> Any:
        return self.rng.choice(seq)

    def sample(self, seq: list[Any], n: int) -> list[Any]:
        return self.rng.sample(seq, n)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def ident(self, fmt: str, lo: int, hi: int) -> str:
        while True:
            value = fmt.format(self.rng.randint(lo, hi))
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def day(self, start: date = date(2024, 3, 1), span: int = 600) -> date:
        return start + timedelta(days=self.rng.randint(0, span))

    def fmt_day(self, d: date) -> str:
        formats = [
            f"{d.day} {d:%B}",
            f"{d:%B} {d.day}",
            d.isoformat(),
            f"{d.day} {d:%b} {d.year}",
            f"{d:%a} {d.day} {d:%b}",
            f"{d.day:02d}/{d.month:02d}",
        ]
        return self.pick(formats)

    # --- memories ---------------------------------------------------------------------------

    def flavour(self, text: str) -> str:
        """Add the noise real agent notes carry: a source, a date, a who-said-so."""
        r = self.rng.random()
        if r < 0.06:
            return f"Note: {text}"
        if r < 0.10:
            return f"FYI: {text}"
        if r < 0.14:
            return f"Per {self.pick(self.people)['first']}: {text}"
        if r < 0.17:
            return f"Learned today: {text}"
        if r < 0.21:
            return f"{text} (source: Slack)"
        if r < 0.25:
            return f"{text} — confirmed by {self.pick(self.people)['first']}"
        if r < 0.28:
            return f"[{self.day().isoformat()}] {text}"
        if r < 0.30:
            return f"{text} (via email)"
        return text

    def fact(
        self,
        key: str,
        templates: list[str],
        fields: dict[str, Any],
        memory_type: str,
        tags: list[str],
        importance: tuple[float, float] = (0.3, 0.8),
    ) -> None:
        assert key not in self.facts, key
        f = Fact(key, templates, fields, memory_type, tags)
        self.facts[key] = f
        self._render(f, importance)

    def _render(self, f: Fact, importance: tuple[float, float]) -> None:
        fresh = [t for t in f.templates if t not in f.used] or f.templates
        template = self.pick(fresh)
        f.used.add(template)
        text = cap(template.format(**f.fields))
        self.mems.append(
            Mem(
                f.key,
                self.flavour(text),
                f.memory_type,
                list(f.tags),
                round(self.rng.uniform(*importance), 2),
                template,
            )
        )

    def restate(self, key: str) -> None:
        """Store a fact a second time, as another agent would, in other words."""
        self._render(self.facts[key], (0.2, 0.7))

    def note(self, content: str, memory_type: str, tags: list[str]) -> None:
        """A memory no query is written for (pure background)."""
        key = f"note:{len(self.mems)}"
        self.facts[key] = Fact(key, [content], {}, memory_type, tags)
        self.mems.append(Mem(key, content, memory_type, tags, round(self.rng.uniform(0.1, 0.6), 2)))

    # --- queries ----------------------------------------------------------------------------

    def ask(
        self,
        group: str,
        keys: str | list[str],
        fields: dict[str, Any],
        exact: list[str] | None = None,
        paraphrase: list[str] | None = None,
        mixed: list[str] | None = None,
        needs: tuple[str, ...] = (),
    ) -> None:
        """Offer queries on ``keys``' facts, one per given kind.

        ``needs`` names the fields the answer is made of: the queries are only offered when
        the stored wording of the (first) fact actually contains them.
        """
        keys = [keys] if isinstance(keys, str) else keys
        used = self.facts[keys[0]].used
        if not any(all(f"{{{n}}}" in t for n in needs) for t in used):
            return
        for kind, templates in (("exact", exact), ("paraphrase", paraphrase), ("mixed", mixed)):
            if templates:
                text = self.pick(templates).format(**fields)
                self.candidates.append(Candidate(group, kind, text, keys, needs))


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------


def build_people(w: World) -> None:
    firsts = [row[0] for row in EMPLOYEES] + [first for first, _ in CONTACT_NAMES]
    assert len(set(firsts)) == len(firsts), "queries name people by first name"
    cities = list(CITIES)
    for row in EMPLOYEES:
        first, last, pron = row[0], row[1], row[2]
        nick = row[3] if len(row) > 3 else None
        team = w.pick(TEAMS)
        title = w.pick(NONTECH_TITLES.get(team, TITLES))
        city, tz_abbr, tz_name = w.pick(cities)
        person = {
            "first": first,
            "last": last,
            "full": f"{first} {last}",
            "nick": nick,
            "team": team,
            "title": title,
            "a_title": f"{article(title)} {title}",
            "city": city,
            "tz_abbr": tz_abbr,
            "tz_name": tz_name,
            **PRONOUNS[pron],
        }
        w.people.append(person)
    # A tree, not a random graph: the first person of each team leads it and reports to the
    # first person of all (who reports to nobody); everyone else reports to their team lead.
    head = w.people[0]
    leads = {}
    for p in w.people:
        leads.setdefault(p["team"], p)
    for p in w.people:
        lead = leads[p["team"]]
        p["mgr"] = None if p is head else (lead if lead is not p else head)

    expertise = list(EXPERTISE)
    w.rng.shuffle(expertise)
    drinks, diets, pets, hobbies = list(DRINKS), list(DIETS), list(PETS), list(HOBBIES)
    role_count: dict[tuple[str, str], int] = {}
    for p in w.people:
        role_count[(p["title"], p["team"])] = role_count.get((p["title"], p["team"]), 0) + 1

    attrs = [
        "location",
        "drink",
        "diet",
        "comms",
        "meetings",
        "birthday",
        "pet",
        "hobby",
        "languages",
        "reports_to",
        "style",
        "leave",
        "joined",
    ]
    for i, p in enumerate(w.people):
        person_role(w, p, role_count[(p["title"], p["team"])] == 1)
        if p["nick"]:
            person_nick(w, p)
        if i < len(expertise):
            person_expertise(w, p, expertise[i])
        chosen = w.sample(attrs, w.rng.randint(6, 10))
        for attr in attrs:  # keep a stable order
            if attr not in chosen or (attr == "reports_to" and p["mgr"] is None):
                continue
            if attr == "drink":
                person_drink(w, p, w.pick(drinks))
            elif attr == "diet":
                person_diet(w, p, w.pick(diets))
            elif attr == "pet":
                person_pet(w, p, w.pick(pets))
            elif attr == "hobby":
                person_hobby(w, p, w.pick(hobbies))
            else:
                PERSON_ATTRS[attr](w, p)
        food = [f"person:{p['first']}:{a}" for a in ("drink", "diet")]
        if all(k in w.facts for k in food):
            w.ask(
                "people",
                food,
                p,
                paraphrase=["I'm ordering breakfast for the workshop, what does {first} need?"],
                mixed=["{first} food and drink preferences"],
            )


def person_role(w: World, p: dict[str, Any], unique_role: bool) -> None:
    key = f"person:{p['first']}:role"
    f = dict(p, prev=w.pick(PREV_COMPANIES))
    w.fact(
        key,
        [
            "{full} is the {title} on the {team} team.",
            "{first} {last} — {title}, {team}.",
            "{full} works in {team} as {a_title}.",
            "Contact card: {full}, {title} ({team}), {city} office.",
            "{first} is our {title} in {team}; joined from {prev}.",
            "For anything {team}-related, {full} ({title}) is a good first stop.",
            "{full} — role: {title}; team: {team}; location: {city}.",
            "{first} {last} sits in {team} and holds the {title} role.",
        ],
        f,
        "person",
        ["person", p["first"].lower(), p["team"].lower()],
        (0.5, 0.9),
    )
    w.ask(
        "people",
        key,
        f,
        exact=["who is {full}?", "{first} {last} title?"],
        paraphrase=[
            "what does {first} do here?",
            "what is {first}'s job?",
            "what's {first}'s position at the company",
        ],
        mixed=["{first} role and team", "which team is {first} on?", "{first}'s job title"],
    )
    if unique_role:
        w.ask(
            "people",
            key,
            f,
            mixed=["who is the {title} for {team}?", "{team} {title}"],
        )


def person_nick(w: World, p: dict[str, Any]) -> None:
    key = f"person:{p['first']}:nick"
    w.fact(
        key,
        [
            "{first} goes by {nick}.",
            "Everyone calls {first} '{nick}'.",
            "{full} prefers to be called {nick}.",
            "Call {first} '{nick}' — only HR uses the full name.",
            "'{nick}' = {full}.",
        ],
        p,
        "person",
        ["person", p["first"].lower()],
    )
    w.ask(
        "people",
        key,
        p,
        exact=["who is {nick}?", "{nick}"],
        paraphrase=["what does {first} like to be called?", "what name should I use for {first}"],
    )


def person_expertise(w: World, p: dict[str, Any], topic: tuple[str, str]) -> None:
    key = f"person:{p['first']}:expertise"
    f = dict(p, topic=topic[0], need=topic[1])
    w.fact(
        key,
        [
            "Go-to person for {topic}: {first}.",
            "{first} knows {topic} inside out.",
            "Ask {first} about anything to do with {topic}.",
            "{full} is our resident expert on {topic}.",
            "{first} wrote most of the internal docs on {topic}.",
            "If you're stuck on {topic}, ping {first}.",
            "{topic}? That's {first}'s area.",
        ],
        f,
        "person",
        ["person", "expertise", p["first"].lower()],
        (0.5, 0.9),
    )
    w.ask(
        "people",
        key,
        f,
        paraphrase=[
            "who can help me with {need}?",
            "who should I talk to about {need}",
        ],
        mixed=["{topic} expert", "who knows {topic}?", "who to ask about {topic}"],
    )


def person_location(w: World, p: dict[str, Any]) -> None:
    key = f"person:{p['first']}:location"
    w.fact(
        key,
        [
            "{first} is based in {city} ({tz_abbr}).",
            "{first} works remotely from {city} — {tz_name} hours.",
            "Heads-up: {first} sits in {city}, so {their} day runs on {tz_name}.",
            "{full}'s home base: {city}.",
            "{first} moved to {city} last year and now keeps {tz_abbr} hours.",
            "{first} lives in {city}; expect replies during {tz_name} working hours.",
        ],
        p,
        "fact",
        ["person", p["first"].lower(), "location"],
    )
    w.ask(
        "people",
        key,
        p,
        paraphrase=[
            "what time zone is {first} in?",
            "where in the world is {first}",
            "is it the middle of the night for {first} right now?",
        ],
        mixed=["{first} timezone", "{first} location", "which city does {first} work from"],
    )


def person_drink(w: World, p: dict[str, Any], drink: str) -> None:
    key = f"person:{p['first']}:drink"
    f = dict(p, drink=drink, a_drink=f"{article(drink)} {drink}")
    w.fact(
        key,
        [
            "{first} always starts {their} day with {a_drink}.",
            "{first}'s usual order at the café: {drink}.",
            "If you're doing a coffee run, get {first} {a_drink}.",
            "{first} only drinks {drink} before lunch.",
            "Remember: {drink} for {first}, every time.",
            "{first} can't function without {a_drink} first thing.",
            "Ordering for standup? {first} = {drink}.",
        ],
        f,
        "preference",
        ["preference", p["first"].lower(), "food"],
        (0.2, 0.6),
    )
    w.ask(
        "people",
        key,
        f,
        paraphrase=[
            "what does {first} drink in the morning?",
            "what hot drink should I bring {first}",
            "{first}'s caffeine of choice",
        ],
        mixed=["{first} coffee order", "what coffee does {first} like?"],
    )


def person_diet(w: World, p: dict[str, Any], diet: tuple[str, str]) -> None:
    key = f"person:{p['first']}:diet"
    f = dict(p, label=diet[0], clause=diet[1])
    w.fact(
        key,
        [
            "{first} {clause}.",
            "Dietary note for {first}: {label}.",
            "When booking team dinners, remember that {first} {clause}.",
            "Catering: {first} → {label}.",
            "{first} told us: {label}. Plan lunches accordingly.",
            "Offsite food form — {full}: {label}.",
        ],
        f,
        "preference",
        ["preference", p["first"].lower(), "food"],
        (0.4, 0.9),
    )
    w.ask(
        "people",
        key,
        f,
        paraphrase=[
            "what can't {first} eat?",
            "anything to know before ordering lunch for {first}",
            "is there food {first} has to avoid",
        ],
        mixed=["{first} dietary requirements", "{first} food restrictions"],
    )


def person_comms(w: World, p: dict[str, Any]) -> None:
    key = f"person:{p['first']}:comms"
    f = dict(p, pref=w.pick(COMMS).format(**p))
    w.fact(
        key,
        [
            "{first} {pref}.",
            "Comms preference — {first} {pref}.",
            "Note to self: {first} {pref}.",
            "Tip: {first} {pref}.",
            "Working with {first}: {pref}.",
        ],
        f,
        "preference",
        ["preference", p["first"].lower(), "communication"],
    )
    w.ask(
        "people",
        key,
        f,
        paraphrase=[
            "best way to get hold of {first}?",
            "how should I reach {first} about something urgent",
            "how does {first} like to be contacted",
        ],
        mixed=["{first} slack or email?", "{first} communication preference"],
    )


def person_meetings(w: World, p: dict[str, Any]) -> None:
    key = f"person:{p['first']}:meetings"
    f = dict(p, pref=w.pick(MEETING_PREFS))
    w.fact(
        key,
        [
            "{first} {pref}.",
            "Calendar rule for {first}: {pref}.",
            "Scheduling with {first}? Remember {first} {pref}.",
            "{full} {pref}, so plan invites around that.",
            "FYI for anyone booking time with {first}: {pref}.",
        ],
        f,
        "preference",
        ["preference", p["first"].lower(), "calendar"],
    )
    w.ask(
        "people",
        key,
        f,
        paraphrase=[
            "when should I avoid putting something in {first}'s diary?",
            "any times {first} can't be booked",
        ],
        mixed=["{first} meeting availability", "{first} calendar constraints"],
    )


def person_birthday(w: World, p: dict[str, Any]) -> None:
    key = f"person:{p['first']}:birthday"
    f = dict(p, date=w.fmt_day(w.day(date(2025, 1, 1), 364)))
    w.fact(
        key,
        [
            "{first}'s birthday is {date}.",
            "{first} celebrates {their} birthday on {date}.",
            "Birthday: {full}, {date}.",
            "Cake alert — {first}'s birthday falls on {date}.",
            "Don't forget {first}'s birthday ({date}).",
        ],
        f,
        "fact",
        ["person", p["first"].lower(), "birthday"],
        (0.2, 0.5),
    )
    w.ask(
        "people",
        key,
        f,
        paraphrase=["when was {first} born?", "what day should we get a cake for {first}"],
        mixed=["{first} birthday", "when is {first}'s birthday?"],
    )


def person_pet(w: World, p: dict[str, Any], pet: tuple[str, str, str]) -> None:
    key = f"person:{p['first']}:pet"
    f = dict(p, species=pet[0], breed=pet[1], pet=pet[2])
    w.fact(
        key,
        [
            "{first} has a {breed} called {pet}.",
            "{first}'s {breed}, {pet}, makes regular appearances on video calls.",
            "{pet} is {first}'s {breed}.",
            "Ask {first} about {pet} (a {breed}) — instant mood boost.",
            "{full} adopted a {breed} named {pet} this spring.",
        ],
        f,
        "fact",
        ["person", p["first"].lower(), "personal"],
        (0.1, 0.4),
    )
    w.ask(
        "people",
        key,
        f,
        paraphrase=["what's the name of {first}'s animal?", "does {first} have any pets?"],
        mixed=["{first} {species} name", "what kind of {species} does {first} have"],
    )


def person_hobby(w: World, p: dict[str, Any], hobby: str) -> None:
    key = f"person:{p['first']}:hobby"
    f = dict(p, hobby=hobby.format(**p))
    w.fact(
        key,
        [
            "{first} {hobby}.",
            "Fun fact: {first} {hobby}.",
            "Icebreaker idea — {first} {hobby}.",
            "Outside work, {first} {hobby}.",
            "Small talk with {first}: {first} {hobby}.",
        ],
        f,
        "fact",
        ["person", p["first"].lower(), "personal"],
        (0.1, 0.4),
    )
    w.ask(
        "people",
        key,
        f,
        paraphrase=[
            "what does {first} do in {their} free time?",
            "good small-talk topic with {first}",
            "what is {first} into outside the office",
        ],
        mixed=["{first} hobbies", "{first}'s hobby"],
    )


def person_languages(w: World, p: dict[str, Any]) -> None:
    key = f"person:{p['first']}:languages"
    l1, l2 = w.sample(LANGUAGES, 2)
    f = dict(p, l1=l1, l2=l2)
    w.fact(
        key,
        [
            "{first} speaks {l1} and {l2}.",
            "{first} is fluent in {l1}, conversational in {l2}.",
            "Languages: {first} — {l1}, {l2}.",
            "Need someone for {l1}? {first} is a native speaker (also decent {l2}).",
            "{full} can handle calls in {l1} and {l2}.",
        ],
        f,
        "fact",
        ["person", p["first"].lower(), "languages"],
    )
    w.ask(
        "people",
        key,
        f,
        paraphrase=[
            "which languages does {first} know?",
            "what could {first} translate for us?",
        ],
        mixed=["does {first} speak {l1}?", "{first} languages spoken"],
    )


def person_reports_to(w: World, p: dict[str, Any]) -> None:
    key = f"person:{p['first']}:manager"
    m = p["mgr"]
    f = dict(p, mgr=m["first"], mgr_full=m["full"])
    w.fact(
        key,
        [
            "{first} reports to {mgr}.",
            "{mgr_full} is {first}'s line manager.",
            "{first}'s manager: {mgr}.",
            "Org chart: {first} → {mgr}.",
            "{first} is in {mgr}'s group; escalations go to {mgr}.",
        ],
        f,
        "person",
        ["person", p["first"].lower(), "org"],
    )
    w.ask(
        "people",
        key,
        f,
        paraphrase=["who is {first}'s boss?", "who does {first} answer to"],
        mixed=["{first} manager", "who manages {first}?"],
    )


def person_style(w: World, p: dict[str, Any]) -> None:
    key = f"person:{p['first']}:style"
    f = dict(p, style=w.pick(WRITING_STYLES))
    w.fact(
        key,
        [
            "When writing for {first}: {style}.",
            "{first} prefers {style}.",
            "{first}'s formatting preference: {style}.",
            "Docs for {first} should use {style}.",
            "{first} asked for {style} in every summary.",
        ],
        f,
        "preference",
        ["preference", p["first"].lower(), "writing"],
        (0.4, 0.8),
    )
    w.ask(
        "people",
        key,
        f,
        paraphrase=[
            "how does {first} like documents laid out?",
            "how should I put together a report for {first}",
        ],
        mixed=["{first} formatting preference", "{first} writing style"],
    )


def person_leave(w: World, p: dict[str, Any]) -> None:
    key = f"person:{p['first']}:leave"
    cover = w.pick([q for q in w.people if q is not p])
    start = w.day()
    f = dict(
        p,
        cover=cover["first"],
        back=w.fmt_day(start + timedelta(days=w.rng.randint(7, 120))),
        out=w.fmt_day(start),
        place=w.pick(PLACES),
        kind=w.pick(["parental leave", "sabbatical", "holiday", "medical leave"]),
    )
    w.fact(
        key,
        [
            "{first} is on {kind} until {back}; {cover} is covering.",
            "{first} out of office {out} to {back} ({kind}). {cover} covers.",
            "{kind}: {first} away until {back}. Escalate to {cover}.",
            "{first} OOO until {back} — reach {cover} instead.",
            "While {first} is away ({out} to {back}), {cover} picks up {their} work.",
        ],
        f,
        "event",
        ["person", p["first"].lower(), "leave"],
    )
    w.ask(
        "people",
        key,
        f,
        paraphrase=[
            "who is standing in for {first} while {theyre} away?",
            "when is {first} back at work",
        ],
        mixed=["{first} out of office cover", "{first} OOO dates"],
    )


def person_joined(w: World, p: dict[str, Any]) -> None:
    key = f"person:{p['first']}:joined"
    f = dict(p, date=w.fmt_day(w.day(date(2021, 1, 1), 1200)), prev=w.pick(PREV_COMPANIES))
    w.fact(
        key,
        [
            "{first} joined on {date}, previously at {prev}.",
            "{full} started in {team} on {date}; came from {prev}.",
            "New starter: {first} ({date}), ex-{prev}.",
            "{first}'s first day was {date}. Before us: {prev}.",
        ],
        f,
        "event",
        ["person", p["first"].lower(), "hr"],
        (0.2, 0.5),
    )
    w.ask(
        "people",
        key,
        f,
        paraphrase=["where did {first} work before us?", "how long has {first} been here"],
        mixed=["{first} start date", "when did {first} join?"],
    )


PERSON_ATTRS = {
    "location": person_location,
    "comms": person_comms,
    "meetings": person_meetings,
    "birthday": person_birthday,
    "languages": person_languages,
    "reports_to": person_reports_to,
    "style": person_style,
    "leave": person_leave,
    "joined": person_joined,
}

# --------------------------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------------------------


def build_projects(w: World) -> None:
    for name, desc, para, stack in PROJECTS:
        owner = w.pick(w.people)
        f: dict[str, Any] = {
            "P": name,
            "desc": desc,
            "para": para,
            "stack": stack,
            "owner": owner["first"],
            "owner_full": owner["full"],
            "backup": w.pick(w.people)["first"],
            "sponsor": w.pick(w.people)["first"],
            "month": w.pick(["January", "February", "March", "April", "May", "June"]),
            "slug": f"proj-{name.lower()}",
            "repo": w.pick([f"{name.lower()}", f"{name.lower()}-app", f"{name.lower()}-svc"]),
        }
        tag = name.lower()
        k = f"project:{name}:desc"
        w.fact(
            k,
            [
                "Project {P} is {desc}.",
                "{P} = {desc}.",
                "Codename {P}: {desc}; kicked off in {month}.",
                "Quick context: {P} is what we call {desc}.",
                "{P} (internal codename) covers {desc}.",
                "{P} is {desc}, sponsored by {sponsor}.",
            ],
            f,
            "fact",
            ["project", tag],
            (0.6, 1.0),
        )
        w.ask(
            "projects",
            k,
            f,
            exact=["what is project {P}?", "what's {P} about"],
            paraphrase=[
                "which project is about {para}?",
                "what's the codename for {para}",
                "name of the initiative for {para}",
            ],
            mixed=["{P} project scope", "what does {P} cover"],
        )
        k = f"project:{name}:owner"
        w.fact(
            k,
            [
                "{P} is owned by {owner}.",
                "{owner} is the DRI for {P}.",
                "{owner_full} leads {P}.",
                "Owner of {P}: {owner} (backup: {backup}).",
                "{P} lead — {owner}; {backup} deputises.",
            ],
            f,
            "person",
            ["project", tag, "owner"],
            (0.5, 0.9),
        )
        w.ask(
            "projects",
            k,
            f,
            paraphrase=["who's accountable for {P}?", "who should I go to with questions on {P}"],
            mixed=["who leads {P}?", "{P} owner", "who runs project {P}"],
        )
        if w.chance(0.7):
            k = f"project:{name}:repo"
            w.fact(
                k,
                [
                    "{P} code: github.com/northwind/{repo}.",
                    "The {P} repository is northwind/{repo} (main branch is protected).",
                    "Repo for {P} → {repo}.",
                    "Clone northwind/{repo} to work on {P}; CI runs on GitHub Actions.",
                ],
                f,
                "fact",
                ["project", tag, "repo"],
            )
            w.ask(
                "projects",
                k,
                f,
                paraphrase=["where can I read {P}'s source code?"],
                mixed=["{P} git repo", "where is the {P} code?"],
            )
        versions = sorted(
            {f"{w.rng.randint(1, 4)}.{w.rng.randint(0, 9)}.{w.rng.randint(0, 5)}" for _ in range(2)}
        )
        for ver in versions[: w.rng.randint(1, 2)]:
            k = f"project:{name}:release:{ver}"
            fr = dict(
                f,
                ver=ver,
                date=w.fmt_day(w.day()),
                feature=w.pick(RELEASE_FEATURES),
            )
            w.fact(
                k,
                [
                    "{P} v{ver} shipped on {date} with {feature}.",
                    "Released {P} {ver} ({date}): {feature}.",
                    "{P} {ver} is live since {date} — main change: {feature}.",
                    "{P} {ver} release notes: {feature}; no breaking changes.",
                    "Shipped {feature} to {P} users in {ver}.",
                ],
                fr,
                "event",
                ["project", tag, "release"],
            )
            w.ask(
                "projects",
                k,
                fr,
                exact=["{P} {ver}", "what's in {P} {ver}?", "{P} v{ver} release"],
            )
            w.ask(
                "projects",
                k,
                fr,
                mixed=["which {P} version added {feature}?", "{P} release with {feature}"],
                needs=("ver", "feature"),
            )
        k = f"project:{name}:launch"
        fl = dict(
            f,
            date=w.fmt_day(w.day(date(2025, 2, 1), 300)),
            old=w.fmt_day(w.day(date(2024, 10, 1), 120)),
        )
        w.fact(
            k,
            [
                "{P} GA target is {date}.",
                "{P} goes live on {date} if QA passes.",
                "Launch date for {P}: {date} (moved from {old}).",
                "{P} public launch pencilled in for {date}.",
                "{P} slipped from {old} to {date}.",
            ],
            fl,
            "event",
            ["project", tag, "launch"],
            (0.5, 0.9),
        )
        w.ask(
            "projects",
            k,
            fl,
            paraphrase=[
                "when will {P} be available to everyone?",
                "when do customers get their hands on {P}",
            ],
            mixed=["{P} launch date", "when does {P} go live?"],
        )
        w.ask(
            "projects",
            [f"project:{name}:owner", k],
            fl,
            mixed=["who owns {P} and when does it launch?", "{P} lead and go-live date"],
        )
        k = f"project:{name}:stack"
        w.fact(
            k,
            [
                "{P} is built on {stack}.",
                "Tech stack for {P}: {stack}.",
                "{P} runs {stack}.",
                "Under the hood {P} uses {stack}.",
            ],
            f,
            "fact",
            ["project", tag, "tech"],
        )
        w.ask(
            "projects",
            k,
            f,
            paraphrase=[
                "what technologies is {P} written with?",
                "what languages and tools does {P} use",
            ],
            mixed=["{P} tech stack", "{P} stack"],
        )
        if w.chance(0.6):
            k = f"project:{name}:budget"
            fb = dict(
                f,
                q=w.pick(QUARTERS),
                amount=f"${w.rng.randint(4, 60) * 10}k",
                approver=w.pick(w.people)["first"],
            )
            w.fact(
                k,
                [
                    "{P} budget for {q}: {amount}, approved by {approver}.",
                    "Finance signed off {amount} for {P} in {q}.",
                    "{P} has {amount} to spend in {q}.",
                    "{approver} approved {amount} for {P} ({q}).",
                ],
                fb,
                "decision",
                ["project", tag, "budget"],
            )
            w.ask(
                "projects",
                k,
                fb,
                paraphrase=["how much money has {P} got?", "how much can we spend on {P}"],
                mixed=["{P} budget", "{P} budget {q}"],
            )
        if w.chance(0.6):
            k = f"project:{name}:blocker"
            fb = dict(f, blocker=w.pick(BLOCKERS))
            w.fact(
                k,
                [
                    "{P} is blocked on {blocker}.",
                    "Status: {P} waiting on {blocker}.",
                    "{P} stalled — {blocker} still pending.",
                    "Nothing moves on {P} until {blocker} is sorted.",
                ],
                fb,
                "event",
                ["project", tag, "status"],
                (0.5, 0.9),
            )
            w.ask(
                "projects",
                k,
                fb,
                paraphrase=["what is holding {P} up?", "why is {P} stuck"],
                mixed=["{P} blocker", "is {P} blocked"],
            )
        if w.chance(0.5):
            k = f"project:{name}:channel"
            w.fact(
                k,
                [
                    "{P} discussion happens in #{slug}.",
                    "Slack channel for {P}: #{slug}.",
                    "Post {P} questions in #{slug}, not #general.",
                ],
                f,
                "fact",
                ["project", tag, "slack"],
                (0.2, 0.5),
            )
            w.ask(
                "projects",
                k,
                f,
                paraphrase=["where do people chat about {P}?"],
                mixed=["{P} slack channel"],
            )


# --------------------------------------------------------------------------------------------
# Services, configuration and feature flags
# --------------------------------------------------------------------------------------------

CRON_JOBS = [
    ("reindex", "full search rebuild"),
    ("reconciliation", "nightly check that the books match"),
    ("cleanup of expired sessions", "purge of old logins"),
    ("export to the warehouse", "copy of the data to analytics"),
    ("digest email", "daily summary email"),
    ("backup", "snapshot of the data"),
]

ENV_VARS = [
    ("LOG_LEVEL", ["WARN", "INFO", "DEBUG"]),
    ("MAX_BATCH_SIZE", ["200", "500", "1000"]),
    ("GRPC_KEEPALIVE_MS", ["20000", "30000"]),
    ("CACHE_TTL_SECONDS", ["60", "300", "900"]),
    ("WORKER_CONCURRENCY", ["4", "8", "16"]),
    ("READ_REPLICA_WEIGHT", ["0.3", "0.5", "0.8"]),
]


def build_services(w: World) -> None:
    ports: set[int] = set()
    for svc, user_para, deps in SERVICES:
        team = w.pick(TECH_TEAMS)
        port = w.rng.randint(3000, 9900)
        while port in ports:
            port = w.rng.randint(3000, 9900)
        ports.add(port)
        f: dict[str, Any] = {
            "svc": svc,
            "what": user_para,
            "dep": w.pick(deps),
            "team": team,
            "port": port,
            "mport": port + 1,
            "env": w.pick(["prod", "staging"]),
        }
        tags = ["service", svc, "config"]
        attrs = w.sample(
            [
                "port",
                "timeout",
                "replicas",
                "pool",
                "cron",
                "retention",
                "env",
                "memory",
                "owner",
                "dashboard",
            ],
            w.rng.randint(4, 7),
        )
        if "port" in attrs:
            k = f"svc:{svc}:port"
            w.fact(
                k,
                [
                    "{svc} listens on port {port}.",
                    "{svc}: port {port} (HTTP), metrics on {mport}.",
                    "Port for {svc} in {env} is {port}.",
                    "Remember {svc} binds to :{port}, not the default 8080.",
                ],
                f,
                "fact",
                tags,
            )
            w.ask(
                "services",
                k,
                f,
                exact=["what runs on port {port}?", "port {port}"],
                mixed=["{svc} port", "what port does {svc} use?"],
            )
        if "timeout" in attrs:
            k = f"svc:{svc}:timeout"
            ft = dict(f, t=w.pick([2, 3, 5, 8, 10, 12, 15, 30]), r=w.pick([0, 1, 2, 3]))
            w.fact(
                k,
                [
                    "{svc} → {dep} timeout is {t} s.",
                    "Upstream timeout from {svc} to {dep}: {t}s, with {r} retries.",
                    "We set {svc}'s {dep} client timeout to {t} seconds.",
                    "{svc} gives {dep} {t}s before failing the request ({r} retries).",
                ],
                ft,
                "fact",
                tags,
            )
            w.ask(
                "services",
                k,
                ft,
                paraphrase=["how long does {svc} wait on {dep} before giving up?"],
                mixed=["{svc} {dep} timeout", "timeout for {dep} calls in {svc}"],
            )
        if "replicas" in attrs:
            k = f"svc:{svc}:replicas"
            n = w.rng.randint(2, 12)
            fr = dict(f, n=n, m=n * w.pick([2, 3, 4]))
            w.fact(
                k,
                [
                    "{svc} runs {n} replicas in prod (HPA max {m}).",
                    "Prod scale for {svc}: {n} pods, autoscaling up to {m}.",
                    "{svc} has {n} instances by default; HPA can go to {m}.",
                ],
                fr,
                "fact",
                tags,
            )
            w.ask(
                "services",
                k,
                fr,
                paraphrase=["how many copies of {svc} are running in production?"],
                mixed=["{svc} replica count", "{svc} autoscaling max"],
            )
        if "pool" in attrs:
            k = f"svc:{svc}:pool"
            fp = dict(f, n=w.pick([10, 20, 25, 40, 50, 80, 100]))
            w.fact(
                k,
                [
                    "{svc} DB connection pool size is {n}.",
                    "max pool size for {svc}'s Postgres connections: {n}.",
                    "{svc} keeps at most {n} database connections per pod.",
                ],
                fp,
                "fact",
                tags,
            )
            w.ask(
                "services",
                k,
                fp,
                paraphrase=["how many database sessions can each {svc} pod open?"],
                mixed=["{svc} connection pool size"],
            )
        if "cron" in attrs:
            k = f"svc:{svc}:cron"
            job = w.pick(CRON_JOBS)
            hh, mm = w.rng.randint(0, 5), w.pick([0, 15, 30, 45])
            fc = dict(
                f, job=job[0], jpara=job[1], time=f"{hh:02d}:{mm:02d}", cron=f"{mm} {hh} * * *"
            )
            w.fact(
                k,
                [
                    "{svc} runs its {job} nightly at {time} UTC.",
                    "Cron for {svc} {job}: `{cron}` (UTC).",
                    "The {job} job in {svc} kicks off at {time} UTC every night.",
                ],
                fc,
                "fact",
                tags,
            )
            w.ask(
                "services",
                k,
                fc,
                paraphrase=["what time does {svc} do its {jpara}?"],
                mixed=["{svc} {job} schedule", "when does the {svc} {job} run"],
            )
        if "retention" in attrs:
            k = f"svc:{svc}:retention"
            fr = dict(f, n=w.pick([7, 14, 30, 90]))
            w.fact(
                k,
                [
                    "Logs for {svc} are kept {n} days in Loki.",
                    "{svc} log retention: {n} days.",
                    "We only keep {n} days of {svc} logs, so grab them early.",
                ],
                fr,
                "fact",
                tags,
            )
            w.ask(
                "services",
                k,
                fr,
                paraphrase=["how far back can I look at {svc} output?"],
                mixed=["{svc} log retention", "how long are {svc} logs kept?"],
            )
        if "env" in attrs:
            var, vals = w.pick(ENV_VARS)
            k = f"svc:{svc}:env:{var}"
            fe = dict(f, var=var, val=w.pick(vals))
            w.fact(
                k,
                [
                    "{svc} reads {var}; currently {val} in prod.",
                    "{var}={val} for {svc} in production.",
                    "In prod, {svc} has {var} set to {val}.",
                ],
                fe,
                "fact",
                tags,
            )
            w.ask(
                "services",
                k,
                fe,
                exact=["{svc} {var}", "{var} value for {svc}"],
                mixed=["what is {var} set to on {svc}?"],
            )
        if "memory" in attrs:
            k = f"svc:{svc}:memory"
            fm = dict(f, n=w.pick([256, 512, 768, 1024, 2048, 4096]))
            w.fact(
                k,
                [
                    "{svc} memory limit: {n} Mi; it gets OOM-killed above that.",
                    "Container limit for {svc} is {n}Mi of memory.",
                    "{svc} pods are capped at {n} MiB.",
                ],
                fm,
                "fact",
                tags,
            )
            w.ask(
                "services",
                k,
                fm,
                paraphrase=["how much RAM does {svc} get?"],
                mixed=["{svc} memory limit"],
            )
        if "owner" in attrs:
            k = f"svc:{svc}:owner"
            fo = dict(f, rot=f"{team.lower().replace(' ', '-')}-primary")
            w.fact(
                k,
                [
                    "{svc} is owned by {team}; on-call rotation '{rot}' in PagerDuty.",
                    "Owning team for {svc}: {team}.",
                    "{team} maintains {svc} and carries its pager.",
                ],
                fo,
                "fact",
                ["service", svc, "ownership"],
            )
            w.ask(
                "services",
                k,
                fo,
                paraphrase=[
                    "who gets woken up when {svc} breaks?",
                    "which group is on the hook for {svc}",
                ],
                mixed=["{svc} owner team", "which team owns {svc}?"],
            )
        if "dashboard" in attrs:
            k = f"svc:{svc}:dashboard"
            uid = "".join(w.rng.choice(string.ascii_lowercase + string.digits) for _ in range(8))
            fd = dict(f, uid=uid)
            w.fact(
                k,
                [
                    "Grafana dashboard for {svc}: grafana.northwind.dev/d/{uid}.",
                    "{svc} metrics live at grafana.northwind.dev/d/{uid}.",
                    "Bookmark grafana.northwind.dev/d/{uid} — the {svc} dashboard.",
                ],
                fd,
                "fact",
                ["service", svc, "observability"],
                (0.2, 0.5),
            )
            w.ask(
                "services",
                k,
                fd,
                paraphrase=["where can I see graphs for {svc}?"],
                mixed=["{svc} grafana dashboard"],
            )


FLAGS = [
    ("new_checkout_flow", "the redesigned checkout", "the new payment pages"),
    ("enable_apple_pay", "Apple Pay at checkout", "the iPhone wallet option"),
    ("search_v2_ranking", "the new search ranking", "the improved ordering of product results"),
    ("smart_webhook_retries", "smarter webhook retries", "the cleverer re-sending of callbacks"),
    ("dark_mode", "dark mode", "the night-time colour theme"),
    ("loyalty_points_v2", "the new loyalty points maths", "the reworked rewards calculation"),
    ("multi_currency_display", "prices in local currency", "prices in their own money"),
    ("gift_cards", "gift cards", "store-credit vouchers"),
    ("chat_widget", "the in-app chat widget", "live support inside the app"),
    ("evening_slots", "evening delivery slots", "after-work delivery times"),
    ("llm_ticket_triage", "AI ticket triage", "automatic sorting of help requests"),
    ("new_invoice_pdf", "the new invoice PDF layout", "the redesigned bills"),
    ("recs_carousel_v3", "the v3 recommendations carousel", "the new 'you may also like' rail"),
    ("fast_refunds", "instant refunds under £50", "immediate money-back on small orders"),
    ("passkeys_login", "passkey login", "password-free sign-in"),
    ("bulk_edit_ui", "bulk editing in the admin", "changing many products at once"),
    ("sms_2fa_fallback", "SMS fallback for 2FA", "login codes by text message"),
    ("vat_reverse_charge", "VAT reverse charge for B2B", "no VAT for EU business buyers"),
    ("saved_searches", "saved searches", "remembered search filters"),
    ("returns_portal", "the self-service returns portal", "sending items back without emailing us"),
    ("async_pdf_export", "asynchronous PDF export", "exports that email you when ready"),
    ("new_onboarding_checklist", "the onboarding checklist", "the getting-started to-do list"),
    ("store_pickup", "click-and-collect", "picking orders up in a shop"),
    ("price_test_q3", "the Q3 price test", "the experiment with higher prices"),
    ("graphql_gateway", "the GraphQL gateway", "the new API layer for the apps"),
    ("otel_tracing", "OpenTelemetry tracing", "the new request tracing"),
]

SEGMENTS = [
    ("EU users", "European shoppers"),
    ("UK web traffic", "British website visitors"),
    ("iOS users", "people on iPhones"),
    ("Android users", "people on Android phones"),
    ("enterprise accounts", "big corporate clients"),
    ("staff accounts", "employees"),
    ("US users", "American shoppers"),
    ("new sign-ups", "people who just registered"),
]


def build_flags(w: World) -> None:
    for flag, desc, para in FLAGS:
        seg = w.pick(SEGMENTS)
        f = {
            "flag": flag,
            "desc": desc,
            "para": para,
            "seg": seg[0],
            "seg_para": seg[1],
            "pct": w.pick([1, 5, 10, 20, 25, 50, 75, 100]),
            "err": w.pick([0.5, 1, 2, 5]),
            "owner": w.pick(w.people)["first"],
            "date": w.fmt_day(w.day()),
        }
        k = f"flag:{flag}"
        w.fact(
            k,
            [
                "Flag `{flag}` ({desc}) is on for {pct}% of {seg}; owner {owner}.",
                "{flag}: {pct}% rollout in {seg}, kill it if error rate > {err}%.",
                "We ramped {flag} to {pct}% of {seg} on {date}.",
                "{desc} is behind the {flag} flag — currently {pct}% of {seg}.",
                "Rollout status of {desc}: {pct}% ({seg}), flag {flag}, owned by {owner}.",
                "{owner} bumped `{flag}` to {pct}% for {seg}.",
                "Quartz: {flag} → {pct}% of {seg}. Roll back if errors pass {err}%.",
                "{desc}: live for {pct}% of {seg} behind `{flag}` since {date}.",
                "Don't touch {flag} without {owner}; it gates {desc} ({pct}% of {seg}).",
            ],
            f,
            "fact",
            ["feature-flag", flag],
            (0.4, 0.8),
        )
        w.ask(
            "flags",
            k,
            f,
            exact=["{flag}", "{flag} rollout %"],
            paraphrase=[
                "how many {seg_para} get {para} at the moment?",
                "is {para} switched on for {seg_para} yet?",
            ],
            mixed=["rollout percentage for {desc}", "{desc} flag status"],
        )
        w.ask(
            "flags",
            k,
            f,
            mixed=["who owns {flag}?", "who should I ask about {flag}"],
            needs=("owner",),
        )


# --------------------------------------------------------------------------------------------
# Incidents
# --------------------------------------------------------------------------------------------


def build_incidents(w: World, n: int = 165) -> None:
    # An upstream Stripe outage only hits the services that call Stripe.
    combos = [
        (s, c)
        for s in range(len(SERVICES))
        for c in range(len(CAUSES))
        if CAUSES[c][2] != "Stripe outage" or any("Stripe" in d for d in SERVICES[s][2])
    ]
    w.rng.shuffle(combos)
    app_codes: list[str] = []
    for s_idx, c_idx in combos[:n]:
        svc, user_para, _ = SERVICES[s_idx]
        cause, cause_para, short, errs, action = CAUSES[c_idx]
        inc = w.ident("INC-{}", 1000, 9999)
        symptom = w.pick(SYMPTOMS)
        sev = w.pick(["SEV1", "SEV2", "SEV2", "SEV3", "SEV3"])
        d = w.day()
        if errs and w.chance(0.7):
            err = w.pick(errs)
        else:
            err = w.ident("E{}", 1000, 9999)
            app_codes.append(err)
        f = {
            "id": inc,
            "svc": svc,
            "what": user_para,
            "cause": cause,
            "cause_para": cause_para,
            "short": short,
            "err": err,
            "sev": sev,
            "date": w.fmt_day(d),
            "month": f"{d:%B}",
            "dur": w.pick([12, 18, 25, 40, 55, 70, 95, 140, 210]),
            "symptom": symptom[0],
            "symptom_noun": symptom[1],
            "cause_cap": cap(cause),
            "fix": w.pick(CAUSE_FIXES[short]),
            "ic": w.pick(w.people)["first"],
        }
        k = f"incident:{inc}"
        imp = {"SEV1": (0.8, 1.0), "SEV2": (0.6, 0.9), "SEV3": (0.4, 0.7)}[sev]
        w.fact(
            k,
            [
                "{id} ({sev}, {date}): {svc} {symptom} for {dur} min. Root cause: {cause}. "
                "Fixed by {fix}.",
                "{date} — {svc} outage, {id}. It {symptom}; cause was {cause}; {fix} resolved it.",
                "Postmortem summary {id}: {cause} made {svc} unhealthy ({symptom}). Duration "
                "{dur}m, {sev}. IC: {ic}.",
                "{sev} {id}: {svc} {symptom}. Traced to {cause}.",
                "Incident {id} on {svc} — error `{err}`; {cause}. Mitigated by {fix}.",
                "Remember {id}? {svc} {symptom} because of {cause}. {ic} ran the incident.",
                "{id} | {svc} | {sev} | {dur} min | cause: {cause} | fix: {fix}",
                "During {id} ({date}) {svc} {symptom}; logs were full of `{err}`. Root cause: "
                "{cause}.",
                "{svc} {sev} on {date} ({id}): {cause}. We recovered by {fix} after {dur} minutes.",
                "Lesson from {id}: {cause} can take {svc} down ({symptom}, {dur} min).",
                "{ic} was IC for {id} on {date}: {svc} {symptom}, {sev}. Cause: {cause}.",
                "Timeline {id}: alert fired, {svc} {symptom}; {cause} found after {dur} min; "
                "{fix} fixed it.",
                "Customer impact in {id} ({date}, {dur} min): {svc} {symptom}. Cause: {cause}.",
                "{svc} went down on {date}. {id}, {sev}. We saw `{err}`; it was {cause}.",
                "Closed {id}. {cause_cap} broke {svc} for {dur} min; mitigation was {fix}.",
                "On-call handover: {id} is resolved ({fix}). {svc} had {symptom_noun} due to "
                "{cause}.",
                "RCA for {id}: {cause}. Detection took too long; {svc} {symptom} before anyone "
                "noticed.",
                "Paged for {id} at night: {svc} {symptom}. {cause_cap}. {ic} fixed it by {fix}.",
                "Known failure mode for {svc}: {cause} (see {id}, {date}).",
                "{id} — {sev} — {svc}: `{err}` everywhere, root cause {cause}, {dur} min.",
            ],
            f,
            "event",
            ["incident", svc, sev.lower()],
            imp,
        )
        w.ask(
            "incidents",
            k,
            f,
            exact=["what happened in {id}?", "{id} root cause", "{id} summary"],
            paraphrase=[
                "the outage where {what} because {cause_para}",
                "the day {what} because {cause_para}: which incident was that?",
                "that incident where {cause_para} and {what}",
            ],
            mixed=[
                "{svc} outage caused by {short}",
                "{svc} {short} incident",
            ],
        )
        w.ask("incidents", k, f, exact=["{id} fix", "how was {id} fixed?"], needs=("fix",))
        w.ask("incidents", k, f, mixed=["how long was {svc} down during {id}?"], needs=("dur",))
        w.ask("incidents", k, f, mixed=["who was incident commander for {id}?"], needs=("ic",))
        w.ask(
            "incidents",
            k,
            f,
            mixed=["{svc} incident in {month}: what was the cause", "{svc} {month} outage"],
            needs=("date",),
        )
        if err in app_codes:  # an error string identifies the incident only when it is ours alone
            w.ask(
                "incidents",
                k,
                f,
                exact=["error {err}", "{err} {svc}", "what does {err} mean?"],
                needs=("err",),
            )
        if w.chance(0.35):
            ops = w.ident("OPS-{}", 100, 999)
            fo = dict(f, ops=ops, action=action, owner=w.pick(w.people)["first"])
            k2 = f"incident:{inc}:followup"
            w.fact(
                k2,
                [
                    "Follow-up to {id}: {action}. Tracked as {ops}.",
                    "Action item from the {id} postmortem: {action} ({ops}, owner {owner}).",
                    "{ops}: {action} — came out of {id}.",
                    "{owner} owns {ops} ({action}), the {id} follow-up.",
                    "Postmortem of {id} agreed to {action}; ticket {ops}.",
                    "To stop a repeat of {id}: {action} ({ops}).",
                    "{ops} is still open — {action} (from {id}). Owner: {owner}.",
                ],
                fo,
                "decision",
                ["incident", svc, "follow-up"],
                (0.4, 0.8),
            )
            w.ask(
                "incidents",
                k2,
                fo,
                exact=["{ops}", "what is {ops}?", "{id} action items"],
                mixed=["what did we change after {id}?", "what is {ops} supposed to prevent?"],
            )
            w.ask(
                "incidents", [k, k2], fo, exact=["everything about {id}", "{id} and its follow-ups"]
            )


# --------------------------------------------------------------------------------------------
# Third-party API quirks
# --------------------------------------------------------------------------------------------


def build_apis(w: World) -> None:
    for api in APIS:
        kinds = w.sample(
            [
                "rate",
                "page",
                "tz",
                "batch",
                "sandbox",
                "webhook",
                "token",
                "idem",
                "errors",
                "version",
                "consistency",
                "filesize",
                "deprecation",
            ],
            w.rng.randint(4, 8),
        )
        tag = api.lower().replace(" ", "-")
        for kind in kinds:
            k = f"api:{api}:{kind}"
            f: dict[str, Any] = {"api": api}
            if kind == "rate":
                f.update(
                    n=w.pick([60, 100, 300, 600, 700, 1000, 5000]), unit=w.pick(["minute", "hour"])
                )
                tpl = [
                    "{api} API throttles us at {n} requests per {unit}; past that it returns 429.",
                    "Rate limit on {api}: {n} req/{unit} per token.",
                    "Careful — {api} only allows {n} calls per {unit}.",
                    "{api} quota is {n}/{unit}; the sync job backs off on 429s.",
                ]
                q = {
                    "paraphrase": ["how many calls can we make to {api} before it pushes back?"],
                    "mixed": ["{api} rate limit", "{api} 429"],
                }
            elif kind == "page":
                f.update(n=w.pick([50, 100, 200, 250, 1000]), m=w.pick([5, 10, 15]))
                tpl = [
                    "{api} list endpoints cap page size at {n}; cursors expire after {m} minutes.",
                    "Pagination in {api}: max {n} per page, and don't pause long mid-export — "
                    "cursors die after {m} min.",
                    "{api} returns at most {n} items per page.",
                ]
                q = {
                    "paraphrase": ["why does my long {api} export stop halfway through?"],
                    "mixed": ["{api} pagination limit", "{api} page size"],
                }
            elif kind == "tz":
                f.update(tz=w.pick(["US Pacific time", "the account's local time", "EST"]))
                tpl = [
                    "{api} returns timestamps in {tz}, not UTC.",
                    "Gotcha: dates from {api} are in {tz} — convert before comparing.",
                    "{api} timestamps are {tz}; we normalise them in the importer.",
                ]
                q = {
                    "paraphrase": ["why are the dates from {api} off by a few hours?"],
                    "mixed": ["{api} timestamps timezone"],
                }
            elif kind == "batch":
                f.update(n=w.pick([25, 100, 200, 500, 1000, 10000]))
                tpl = [
                    "{api} bulk endpoint accepts at most {n} records per call.",
                    "Max batch size for {api} is {n}.",
                    "Split {api} bulk uploads into chunks of {n}.",
                ]
                q = {
                    "paraphrase": ["how many rows can I push to {api} in one go?"],
                    "mixed": ["{api} batch size limit"],
                }
            elif kind == "sandbox":
                f.update(feat=w.pick(["webhooks", "refunds", "SSO", "attachments", "bulk jobs"]))
                tpl = [
                    "{api} sandbox doesn't support {feat}; test those in the staging account.",
                    "The {api} test environment has no {feat} — use staging.",
                    "Don't trust the {api} sandbox for {feat}, it silently does nothing.",
                ]
                q = {
                    "paraphrase": ["what can't be tested against the fake {api} environment?"],
                    "mixed": ["{api} sandbox {feat}"],
                }
            elif kind == "webhook":
                f.update(n=w.pick([3, 5, 8, 15]), h=w.pick([1, 24, 72]))
                tpl = [
                    "{api} retries failed webhooks {n} times over {h} hours, then gives up.",
                    "If our endpoint is down, {api} re-sends events {n} times within {h}h.",
                    "{api} webhook delivery: {n} retries, {h}-hour window, no replay after that.",
                ]
                q = {
                    "paraphrase": ["what happens if we miss an event {api} sends us?"],
                    "mixed": ["{api} webhook retries"],
                }
            elif kind == "token":
                f.update(n=w.pick([15, 30, 60, 120, 1440]))
                tpl = [
                    "{api} access tokens expire after {n} minutes; refresh them proactively.",
                    "{api} OAuth tokens live {n} min.",
                    "Token lifetime for {api}: {n} minutes — the client refreshes at 80%.",
                ]
                q = {
                    "paraphrase": ["how long does a {api} login stay valid?"],
                    "mixed": ["{api} token expiry"],
                }
            elif kind == "idem":
                tpl = [
                    "Always send an Idempotency-Key to {api}; retries without one double-post.",
                    "{api} creates duplicates on retry unless you pass an idempotency key.",
                    "{api} POSTs aren't idempotent by default — add the Idempotency-Key header.",
                ]
                q = {
                    "paraphrase": ["why did we get duplicate records in {api} after a retry?"],
                    "mixed": ["{api} idempotency key"],
                }
            elif kind == "errors":
                tpl = [
                    "{api} returns HTTP 200 with an error object in the body on validation "
                    "failures — check the `success` field.",
                    "{api} never uses 4xx for bad input; it's 200 plus an `errors` array.",
                    "Don't rely on status codes from {api}: failures come back as 200.",
                ]
                q = {
                    "paraphrase": ["{api} says the call worked but nothing changed, why?"],
                    "mixed": ["{api} error handling 200"],
                }
            elif kind == "version":
                f.update(
                    ver=f"{w.rng.randint(2021, 2025)}-{w.rng.randint(1, 12):02d}-01",
                    fld=w.pick(API_FIELDS),
                )
                tpl = [
                    "Pin the {api} API version to {ver}; newer versions renamed `{fld}`.",
                    "We're on {api} API version {ver} — upgrading breaks `{fld}`.",
                    "{api} version header must stay {ver} until the `{fld}` change is handled.",
                ]
                q = {
                    "exact": ["are we still pinned to {api} API version {ver}?"],
                    "mixed": [
                        "{api} API version pinned",
                        "{api} {fld} renamed",
                        "what breaks if we move {api} off {ver}?",
                    ],
                }
            elif kind == "consistency":
                f.update(n=w.pick([5, 10, 30, 60]))
                tpl = [
                    "Newly created {api} records take up to {n} s to show up in search.",
                    "{api} search is eventually consistent — allow ~{n}s after a write.",
                    "{api} list/search lags writes by up to {n} seconds.",
                ]
                q = {
                    "paraphrase": ["I just created something in {api} but can't find it, why?"],
                    "mixed": ["{api} search delay after create"],
                }
            elif kind == "filesize":
                f.update(n=w.pick([5, 10, 20, 25, 50]))
                tpl = [
                    "{api} rejects attachments larger than {n} MB.",
                    "Max upload to {api}: {n} MB per file.",
                    "{api} file limit is {n}MB; compress PDFs first.",
                ]
                q = {
                    "paraphrase": ["how big a document can we send to {api}?"],
                    "mixed": ["{api} attachment size limit"],
                }
            else:
                f.update(
                    old=w.pick(["/v1/search", "/v2/export", "the legacy REST API", "/v1/contacts"]),
                    new=w.pick(["the v3 API", "the bulk API", "/v2/query", "GraphQL"]),
                    date=w.fmt_day(w.day(date(2025, 3, 1), 300)),
                )
                tpl = [
                    "{api} is turning off {old} on {date}; migrate to {new}.",
                    "{api} deprecation: {old} goes away {date}, replacement is {new}.",
                    "We must move off {api} {old} before {date} ({new}).",
                ]
                q = {
                    "paraphrase": ["which {api} endpoints are going away and when?"],
                    "mixed": ["{api} deprecation {old}"],
                }
            w.fact(k, tpl, f, "fact", ["api", tag, kind], (0.4, 0.9))
            w.ask("apis", k, f, **q)


# --------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------


def build_customers(w: World) -> None:
    contacts = list(CONTACT_NAMES)
    w.rng.shuffle(contacts)
    for i, (co, industry) in enumerate(COMPANIES):
        c_first, c_last = contacts[i]
        short = co.split()[0].removesuffix("'s")
        f: dict[str, Any] = {
            "co": co,
            "co_pos": f"{co}'" if co.endswith("s") else f"{co}'s",
            "short": short,
            "industry": industry,
            "acc": w.ident("ACC-{}", 10000, 99999),
            "plan": w.pick(PLANS),
            "arr": f"£{w.rng.randint(8, 480)}k",
            "cfirst": c_first,
            "clast": c_last,
            "cfull": f"{c_first} {c_last}",
            "ctitle": w.pick(CONTACT_TITLES),
            "csm": w.pick(w.people)["first"],
        }
        tag = co.lower().replace(" & ", "-").replace(" ", "-").replace("'", "")
        tags = ["customer", tag]
        k = f"cust:{co}:account"
        w.fact(
            k,
            [
                "{co} — account {acc}, {plan} plan, ARR {arr}.",
                "{acc} is {co} ({industry}), on {plan}.",
                "Account {acc}: {co}; {plan}; {arr} a year.",
                "{co} ({acc}) pays {arr}/yr on the {plan} tier. CSM: {csm}.",
                "Customer {co}, {industry}, {plan} — {acc}.",
            ],
            f,
            "fact",
            tags,
            (0.5, 0.9),
        )
        w.ask(
            "customers",
            k,
            f,
            exact=["{acc}", "which customer is {acc}?", "account {acc}"],
            mixed=["{co} plan", "{co} account id", "what tier is {acc} on?"],
        )
        w.ask(
            "customers",
            k,
            f,
            paraphrase=["how much does {co} pay us each year?", "what is {co} worth to us"],
            mixed=["{short} ARR"],
            needs=("arr",),
        )
        k = f"cust:{co}:contact"
        w.fact(
            k,
            [
                "Main contact at {co} is {cfull}, {ctitle}.",
                "{cfull} ({ctitle}) is our champion at {co}.",
                "At {co}, talk to {cfirst} {clast} — {ctitle}.",
                "{co} decision-maker: {cfull}, {ctitle}.",
                "{cfirst} from {co} ({ctitle}) signs off renewals.",
            ],
            f,
            "person",
            [*tags, "contact"],
            (0.5, 0.9),
        )
        w.ask(
            "customers",
            k,
            f,
            exact=["who is {cfull}?", "{cfull}"],
            paraphrase=["who do we deal with over at {co}?", "who is our person at {short}"],
            mixed=["{co} main contact", "{short} champion"],
        )
        if w.chance(0.75):
            k = f"cust:{co}:renewal"
            fr = dict(f, date=w.fmt_day(w.day(date(2025, 1, 1), 364)))
            w.fact(
                k,
                [
                    "{co} renews on {date}.",
                    "Renewal for {co}: {date}; start talks 90 days before.",
                    "{co_pos} contract is up {date}.",
                    "{date} — {co} renewal date ({plan}).",
                ],
                fr,
                "event",
                [*tags, "renewal"],
                (0.5, 0.9),
            )
            w.ask(
                "customers",
                k,
                fr,
                paraphrase=["when does the agreement with {co} end?"],
                mixed=["{co} renewal date", "when does {short} renew"],
            )
            w.ask(
                "customers",
                [f"cust:{co}:contact", k],
                fr,
                mixed=["who do I call at {co} about the renewal, and when is it due?"],
            )
        if w.chance(0.55):
            k = f"cust:{co}:billing"
            fb = dict(f, quirk=w.pick(BILLING_QUIRKS))
            w.fact(
                k,
                [
                    "{co} needs {quirk}.",
                    "Invoicing {co}: {quirk}.",
                    "Billing quirk — {co} requires {quirk}.",
                    "Finance note: {co} insists on {quirk}.",
                ],
                fb,
                "preference",
                [*tags, "billing"],
                (0.5, 0.9),
            )
            w.ask(
                "customers",
                k,
                fb,
                paraphrase=["anything special about how we charge {co}?"],
                mixed=["{co} invoice requirements", "{short} billing"],
            )
        if w.chance(0.25):
            k = f"cust:{co}:residency"
            fr = dict(f, res=w.pick(RESIDENCY))
            w.fact(
                k,
                [
                    "{co} requires {res}.",
                    "Contractual: {co} data must follow {res}.",
                    "Hosting constraint for {co}: {res}.",
                ],
                fr,
                "fact",
                [*tags, "compliance"],
                (0.6, 1.0),
            )
            w.ask(
                "customers",
                k,
                fr,
                paraphrase=["where are we allowed to keep information from {co}?"],
                mixed=["{co} data residency"],
            )
        if w.chance(0.45):
            k = f"cust:{co}:escalation"
            fe = dict(
                f,
                cs=w.ident("CS-{}", 1000, 9999),
                issue=w.pick(ESCALATIONS),
                status=w.pick(
                    ["resolved", "still open", "waiting on engineering", "credit agreed"]
                ),
            )
            w.fact(
                k,
                [
                    "{cs}: {co} escalated {issue}; status {status}.",
                    "{co} complained about {issue} ({cs}) — {status}.",
                    "Escalation {cs} from {cfirst} at {co}: {issue}. {status}.",
                    "{co} raised {issue} with their CSM {csm}; ticket {cs}, {status}.",
                ],
                fe,
                "event",
                [*tags, "escalation"],
                (0.6, 1.0),
            )
            w.ask(
                "customers",
                k,
                fe,
                exact=["{cs}", "what is {cs} about?"],
                paraphrase=["what did {co} escalate to us?"],
                mixed=["{co} escalation", "{short} complaint"],
            )
            w.ask("customers", k, fe, mixed=["where are we with {cs}?", "is {cs} sorted yet?"])
        if w.chance(0.35):
            k = f"cust:{co}:sla"
            fs = dict(f, sla=w.pick(SLAS), credit=w.pick([5, 10, 15, 25]))
            w.fact(
                k,
                [
                    "{co} has a {sla} uptime SLA with {credit}% service credits.",
                    "SLA for {co}: {sla}; breach means {credit}% credit.",
                    "{co_pos} contract guarantees {sla} availability.",
                ],
                fs,
                "fact",
                [*tags, "sla"],
                (0.5, 0.9),
            )
            w.ask(
                "customers",
                k,
                fs,
                paraphrase=["what availability did we promise {co}?"],
                mixed=["{co} SLA"],
            )
        if w.chance(0.25):
            k = f"cust:{co}:risk"
            fr = dict(f, reason=w.pick(CHURN_REASONS))
            w.fact(
                k,
                [
                    "{co} is a churn risk: {reason}.",
                    "Watch {co} — {reason}.",
                    "Red flag on {co}: {reason}.",
                ],
                fr,
                "event",
                [*tags, "risk"],
                (0.6, 1.0),
            )
            w.ask(
                "customers",
                k,
                fr,
                paraphrase=["is {co} likely to leave us?", "should we worry about losing {short}"],
                mixed=["{co} churn risk"],
            )


# --------------------------------------------------------------------------------------------
# Products / SKUs
# --------------------------------------------------------------------------------------------


def build_products(w: World) -> None:
    for pfx, name, noun in PRODUCTS:
        num = w.rng.randint(1000, 4999)
        colours = w.sample(COLOURS, w.rng.randint(2, 4))
        skus = [(f"{pfx}-{num}-{code}", colour) for code, colour in colours]
        for sku, colour in skus:
            f: dict[str, Any] = {
                "sku": sku,
                "name": name,
                "noun": noun,
                "colour": colour,
                "price": w.pick([19, 24, 35, 49, 65, 89, 129, 179, 249, 399, 549]),
                "stock": w.rng.randint(0, 900),
                "wh": w.pick(WAREHOUSES),
            }
            tags = ["product", sku.lower(), name.split()[0].lower()]
            k = f"sku:{sku}:price"
            w.fact(
                k,
                [
                    "{sku} ({name}, {colour}) sells for £{price}; {stock} units in {wh}.",
                    "{name} in {colour} — SKU {sku}, £{price}.",
                    "Price check: {sku} is £{price} (stock {stock}, {wh} warehouse).",
                    "{sku}: £{price}, {stock} on hand at {wh}.",
                    "The {colour} {name} ({sku}) retails at £{price}.",
                    "{wh} holds {stock} of {sku} ({name}, {colour}), list price £{price}.",
                    "Stock check {sku}: {stock} left; price £{price}.",
                ],
                f,
                "fact",
                tags,
            )
            w.ask(
                "products",
                k,
                f,
                exact=["{sku} price", "{sku}"],
                mixed=["what do we charge for {sku}?", "how much is {sku} going for"],
            )
            w.ask("products", k, f, exact=["how many {sku} in stock"], needs=("stock",))
            w.ask(
                "products",
                k,
                f,
                paraphrase=["what does the {colour} {noun} cost?"],
                mixed=["{name} {colour} price"],
                needs=("name", "colour"),
            )
            r = w.rng.random()
            if r < 0.2:
                k = f"sku:{sku}:backorder"
                fb = dict(f, date=w.fmt_day(w.day()), supplier=w.pick(SUPPLIERS))
                w.fact(
                    k,
                    [
                        "{sku} is back-ordered until {date} ({supplier} delay).",
                        "Out of stock: {name} ({colour}), {sku}; next delivery {date}.",
                        "{supplier} pushed {sku} restock to {date}.",
                    ],
                    fb,
                    "event",
                    [*tags, "stock"],
                    (0.5, 0.9),
                )
                w.ask(
                    "products",
                    k,
                    fb,
                    exact=["{sku} restock", "{sku} back order"],
                    mixed=["when will we get more {sku}?"],
                )
                w.ask(
                    "products",
                    k,
                    fb,
                    paraphrase=["when can we sell the {colour} {noun} again?"],
                    needs=("colour",),
                )
            elif r < 0.32:
                k = f"sku:{sku}:defect"
                fd = dict(f, batch=w.ident("B{}", 10000, 99999), defect=w.pick(DEFECTS))
                w.fact(
                    k,
                    [
                        "Batch {batch} of {sku} has {defect}; pull it from shelves.",
                        "QA hold on {sku} (batch {batch}): {defect}.",
                        "{name} {colour} batch {batch} — {defect}, refund on request.",
                    ],
                    fd,
                    "event",
                    [*tags, "quality"],
                    (0.6, 1.0),
                )
                w.ask(
                    "products",
                    k,
                    fd,
                    exact=["batch {batch}", "{sku} batch {batch} problem"],
                    mixed=["what's wrong with batch {batch}?"],
                )
                w.ask(
                    "products",
                    k,
                    fd,
                    paraphrase=["is there a quality problem with the {colour} {noun}?"],
                    needs=("colour",),
                )
            elif r < 0.42:
                k = f"sku:{sku}:discontinued"
                other = w.pick([s for s in skus if s[0] != sku] or skus)
                fd = dict(f, other=other[0])
                w.fact(
                    k,
                    [
                        "We're discontinuing {sku}; point customers to {other}.",
                        "{sku} is end-of-line after current stock; replacement {other}.",
                        "Discontinued: {name} in {colour} ({sku}).",
                    ],
                    fd,
                    "decision",
                    [*tags, "range"],
                )
                w.ask(
                    "products",
                    k,
                    fd,
                    exact=["{sku} discontinued?"],
                    mixed=["are we going to keep selling {sku}?"],
                )
                w.ask(
                    "products",
                    k,
                    fd,
                    paraphrase=["are we still going to sell the {colour} {noun}?"],
                    needs=("colour",),
                )


# --------------------------------------------------------------------------------------------
# Decisions, meetings, travel, procedures, events
# --------------------------------------------------------------------------------------------


def build_decisions(w: World) -> None:
    for area, choice, alt, reason, question in DECISIONS:
        adr = w.ident("ADR-{:03d}", 1, 180) if w.chance(0.6) else ""
        f = {
            "area": area,
            "choice": choice,
            "alt": alt,
            "reason": reason,
            "question": question,
            "adr": adr,
            "owner": w.pick(w.people)["first"],
            "date": w.fmt_day(w.day(date(2023, 6, 1), 700)),
        }
        k = f"decision:{area}"
        templates = [
            "Decided: {choice} over {alt} for {area}. Reason: {reason}.",
            "We went with {choice} for {area}; {alt} lost because {reason}.",
            "After the bake-off, {area} will use {choice} ({reason}).",
            "Final call from {owner} on {date}: {choice} for {area}, not {alt}.",
            "For {area}, the team picked {choice} instead of {alt} — {reason}.",
            "{area}: {choice}. ({alt} was the runner-up; {reason}.)",
            "Architecture note: we standardise on {choice} for {area} since {reason}.",
            "{owner} signed off {choice} for {area} on {date}.",
        ]
        if adr:
            templates = [
                "{adr}: use {choice} for {area} (not {alt}) — {reason}.",
                "{adr} ({date}) — {area}: {choice}. Rejected {alt}; {reason}.",
                "Per {adr}, {area} is {choice}. {alt} was considered; {reason}.",
                "{adr} accepted on {date}: {choice} for {area}, because {reason}.",
                "See {adr} — {choice} won over {alt} for {area}.",
                "{adr} ({owner}): {area} → {choice}; {alt} rejected since {reason}.",
            ]
        w.fact(k, templates, f, "decision", ["decision", "architecture"], (0.6, 1.0))
        w.ask(
            "decisions",
            k,
            f,
            exact=["{adr}", "what did {adr} decide?"] if adr else None,
            paraphrase=["{question}"],
            mixed=["{area} decision", "{choice} vs {alt}"],
        )
        w.ask("decisions", k, f, mixed=["why {choice} for {area}?"], needs=("reason",))
        if adr:
            w.ask("decisions", k, f, mixed=["what did {adr} rule out, and why?"])


def build_meetings(w: World) -> None:
    projects = [p[0] for p in PROJECTS]
    combos = [(p, m) for p in projects for m in range(len(MEETING_KINDS))]
    w.rng.shuffle(combos)
    for proj, m_idx in combos[:75]:
        kind, kind_para = MEETING_KINDS[m_idx]
        who = w.pick(w.people)
        outcome, action = w.pick(MEETING_OUTCOMES)
        f = {
            "P": proj,
            "mtg": kind,
            "mtg_para": kind_para,
            "date": w.fmt_day(w.day()),
            "outcome": outcome,
            "who": who["first"],
            "action": action,
        }
        k = f"meeting:{proj}:{kind}"
        w.fact(
            k,
            [
                "{P} {mtg} ({date}): {outcome}. Action: {who} to {action}.",
                "Notes from the {P} {mtg} on {date} — {outcome}; {who} will {action}.",
                "Outcome of {P} {mtg}: {outcome}.",
                "{date} {P} {mtg}: we {outcome}. Action item: {who} — {action}.",
                "At the {mtg} for {P} the group {outcome}.",
            ],
            f,
            "event",
            ["meeting", proj.lower(), kind.replace(" ", "-")],
        )
        w.ask(
            "meetings",
            k,
            f,
            paraphrase=["what came out of the {P} {mtg_para}?"],
            mixed=["{P} {mtg} outcome", "{P} {mtg} notes"],
        )
        w.ask("meetings", k, f, mixed=["{P} {mtg} action items"], needs=("action",))


def build_travel(w: World) -> None:
    travellers = w.sample(w.people, 26)
    dests = [c for c in CITIES if c[0] not in ("Leeds", "Manchester")]
    for p in travellers:
        dest = w.pick(dests)[0]
        purpose = w.pick(TRIP_PURPOSES)
        d = w.day(date(2025, 1, 1), 330)
        flt = w.ident(w.pick(AIRLINES) + "{}", 10, 999)
        f = dict(
            p,
            dest=dest,
            purpose=purpose[0],
            ppara=purpose[1],
            flt=flt,
            date=w.fmt_day(d),
            back=w.fmt_day(d + timedelta(days=w.rng.randint(2, 9))),
            dep=f"{w.rng.randint(6, 21):02d}:{w.pick(['05', '20', '35', '50'])}",
            hotel=w.pick(HOTELS),
            ref=w.ident(w.pick(["ZT", "HX", "BK", "RM"]) + "-{}", 10000, 99999),
        )
        kf = f"travel:{p['first']}:flight"
        w.fact(
            kf,
            [
                "{first} flies to {dest} on {flt} on {date}, back {back}.",
                "Flight for {first}: {flt}, {date}, departs {dep}.",
                "{first}'s trip to {dest} for {purpose}: outbound {flt} ({date}).",
                "Booked {flt} for {full} — {date} at {dep}, returning {back}.",
            ],
            f,
            "event",
            ["travel", p["first"].lower(), dest.lower()],
            (0.4, 0.8),
        )
        kh = f"travel:{p['first']}:hotel"
        w.fact(
            kh,
            [
                "{first} is staying at {hotel} in {dest} ({date} to {back}), booking ref {ref}.",
                "Hotel for {first}'s {dest} trip: {hotel}, confirmation {ref}.",
                "{hotel}, {dest} — reserved for {first}, ref {ref}.",
            ],
            f,
            "fact",
            ["travel", p["first"].lower(), dest.lower()],
            (0.3, 0.7),
        )
        w.ask(
            "travel",
            kf,
            f,
            exact=["{flt}", "who is on flight {flt}?"],
            paraphrase=["when does {first} leave for {ppara}?"],
            mixed=["{first} flight to {dest}"],
        )
        w.ask("travel", kf, f, mixed=["what time does {flt} take off?"], needs=("dep",))
        w.ask(
            "travel",
            kh,
            f,
            exact=["booking {ref}", "{ref}"],
            paraphrase=["where will {first} sleep in {dest}?"],
            mixed=["{first} hotel {dest}", "which hotel is reservation {ref} for?"],
        )
        w.ask("travel", [kf, kh], f, mixed=["{first} {dest} trip details"])


def build_procedures(w: World) -> None:
    for title, steps, para in PROCEDURES:
        f = {"title": title, "steps": steps, "para": para, "Title": cap(title)}
        k = f"procedure:{title}"
        w.fact(
            k,
            [
                "How to {title}: {steps}.",
                "To {title}, {steps}.",
                "Runbook — {title}: {steps}.",
                "{Title}: {steps}.",
                "Process for when you need to {title}: {steps}.",
            ],
            f,
            "procedure",
            ["procedure"],
            (0.5, 0.9),
        )
        w.ask(
            "procedures",
            k,
            f,
            paraphrase=["how do I {para}?", "what are the steps to {para}"],
            mixed=["{title} steps", "how to {title}"],
        )


def build_events(w: World) -> None:
    # Departures and hand-overs.
    leavers = w.sample(w.people, 12)
    for p in leavers:
        heir = w.pick([q for q in w.people if q is not p])
        f = dict(p, heir=heir["first"], date=w.fmt_day(w.day()), dest=w.pick(PREV_COMPANIES))
        k = f"event:{p['first']}:leaving"
        w.fact(
            k,
            [
                "{first} is leaving on {date}; {their} projects move to {heir}.",
                "{full}'s last day: {date}. Hand-over to {heir}.",
                "{first} resigned (going to {dest}); {heir} inherits {their} work.",
            ],
            f,
            "event",
            ["person", p["first"].lower(), "hr"],
            (0.5, 0.9),
        )
        w.ask(
            "events",
            k,
            f,
            paraphrase=["who takes over {first}'s stuff once {theyre} gone?"],
            mixed=["{first} leaving handover"],
        )
        w.ask("events", k, f, mixed=["{first} last day"], needs=("date",))
    # Completed migrations per service.
    for svc, _, _ in w.sample(SERVICES, 16):
        f = {
            "svc": svc,
            "date": w.fmt_day(w.day()),
            "mig": w.pick(
                [
                    "Postgres 14 → 15 upgrade",
                    "move to Graviton (arm64) nodes",
                    "Python 3.12 upgrade",
                    "switch from Datadog to Grafana",
                    "migration to the new VPC",
                    "Java 17 → 21 upgrade",
                    "cut-over to the EKS cluster",
                ]
            ),
            "who": w.pick(w.people)["first"],
        }
        k = f"event:{svc}:migration"
        w.fact(
            k,
            [
                "Completed the {mig} for {svc} on {date}.",
                "{svc}: {mig} done ({date}), thanks {who}.",
                "{who} finished the {mig} on {svc} — {date}.",
            ],
            f,
            "event",
            ["service", svc, "migration"],
        )
        w.ask("events", k, f, mixed=["{svc} {mig}", "when was {svc} migrated"])
    # Deals signed.
    for co, _ in w.sample(COMPANIES, 12):
        f = {
            "co": co,
            "date": w.fmt_day(w.day()),
            "who": w.pick(w.people)["first"],
            "size": f"£{w.rng.randint(20, 400)}k",
        }
        k = f"event:{co}:signed"
        w.fact(
            k,
            [
                "Signed {co} on {date} ({size} first year), closed by {who}.",
                "{who} closed {co} — {size}, signed {date}.",
                "New logo: {co}, {date}.",
            ],
            f,
            "event",
            ["customer", "sales"],
        )
        w.ask(
            "events",
            k,
            f,
            mixed=["when did we sign {co}?"],
        )
        w.ask("events", k, f, paraphrase=["who brought in {co} as a client?"], needs=("who",))
    for text, mtype in OFFICE_FACTS:
        w.note(text, mtype, ["office"])


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------

GROUP_QUOTA = {
    "people": 58,
    "projects": 26,
    "services": 22,
    "flags": 8,
    "incidents": 32,
    "apis": 20,
    "customers": 26,
    "products": 12,
    "decisions": 10,
    "meetings": 6,
    "travel": 6,
    "procedures": 8,
    "events": 6,
}


def select_queries(w: World) -> list[Candidate]:
    """Pick queries per group, cycling through the kinds, at most one per fact."""
    assert sum(GROUP_QUOTA.values()) == N_QUERIES
    chosen: list[Candidate] = []
    used: set[str] = set()
    for group, quota in GROUP_QUOTA.items():
        pool = [c for c in w.candidates if c.group == group]
        w.rng.shuffle(pool)
        kinds = ["paraphrase", "mixed", "exact"]
        taken = 0
        turn = 0
        stalled = 0
        while taken < quota and stalled < len(kinds):
            kind = kinds[turn % len(kinds)]
            turn += 1
            hit = next(
                (c for c in pool if c.kind == kind and not any(k in used for k in c.keys)), None
            )
            if hit is None:
                stalled += 1
                continue
            stalled = 0
            chosen.append(hit)
            used.update(hit.keys)
            taken += 1
        assert taken == quota, (group, taken)
    return chosen


def query_style(w: World, text: str) -> str:
    """Queries are typed by people and agents: sometimes lower-case, often no question mark."""
    if w.chance(0.25):
        text = text.lower()
    if text.endswith("?") and w.chance(0.3):
        text = text[:-1]
    return text


def build(seed: int = SEED) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    w = World(seed)
    build_people(w)
    build_projects(w)
    build_services(w)
    build_flags(w)
    build_incidents(w)
    build_apis(w)
    build_customers(w)
    build_products(w)
    build_decisions(w)
    build_meetings(w)
    build_travel(w)
    build_procedures(w)
    build_events(w)
    # Some facts get stored twice by different agents, in other words.
    restatable = [k for k, f in w.facts.items() if len(f.templates) > 2]
    for key in w.sample(restatable, 150):
        w.restate(key)

    order = list(range(len(w.mems)))
    w.rng.shuffle(order)
    memories: list[dict[str, Any]] = []
    ids_by_key: dict[str, list[tuple[str, str]]] = {}
    for n, idx in enumerate(order, 1):
        m = w.mems[idx]
        mid = f"m{n:04d}"
        ids_by_key.setdefault(m.key, []).append((mid, m.template))
        memories.append(
            {
                "id": mid,
                "content": m.content,
                "memory_type": m.memory_type,
                "tags": m.tags,
                "importance": m.importance,
            }
        )
    memories.sort(key=lambda r: r["id"])

    chosen = select_queries(w)
    w.rng.shuffle(chosen)
    queries = []
    for n, c in enumerate(chosen, 1):
        # A restatement that lacks the asked-for detail does not answer the query.
        relevant = sorted(
            mid
            for i, k in enumerate(c.keys)
            for mid, template in ids_by_key[k]
            if i > 0 or all(f"{{{n}}}" in template for n in c.needs)
        )
        queries.append(
            {
                "id": f"q{n:03d}",
                "query": query_style(w, c.text),
                "relevant": relevant,
                "kind": c.kind,
            }
        )
    return memories, queries


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the retrieval set (memories, queries).")
    parser.add_argument("--seed", type=int, default=SEED, help="another world, for variance checks")
    parser.add_argument("--out", type=Path, default=HERE, help="directory to write to")
    args = parser.parse_args()
    memories, queries = build(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out / "memories.jsonl", memories)
    write_jsonl(args.out / "queries.jsonl", queries)
    kinds: dict[str, int] = {}
    for q in queries:
        kinds[q["kind"]] = kinds.get(q["kind"], 0) + 1
    multi = sum(len(q["relevant"]) > 1 for q in queries)
    print(f"{len(memories)} memories, {len(queries)} queries {kinds}, {multi} with >1 relevant")


if __name__ == "__main__":
    main()

"""The pools the seeded generator draws from: roles and their technologies, places, schools.

Technology names are chosen so that none is a word of ordinary prose or a part of another
(no "Go", "R" or "React Native"), which keeps "is this technology mentioned?" a simple check.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    title: str
    roles: tuple[str, ...]
    technologies: tuple[str, ...]
    certifications: tuple[str, ...] = ()


PROFILES: tuple[Profile, ...] = (
    Profile("Backend Engineer",
            ("Backend Developer", "Software Engineer", "Senior Backend Engineer"),
            ("Python", "Django", "FastAPI", "PostgreSQL", "Redis", "Docker", "Kubernetes", "Celery",
             "RabbitMQ", "Java", "Spring Boot", "Kafka", "gRPC"),
            ("AWS Certified Developer", "Oracle Certified Java Programmer")),
    Profile("Frontend Engineer", ("Frontend Developer", "UI Engineer", "Senior Frontend Engineer"),
            ("TypeScript", "JavaScript", "Angular", "Vue.js", "Svelte", "Webpack", "Tailwind CSS",
             "GraphQL", "Cypress", "Storybook", "Next.js"),
            ("Google Mobile Web Specialist",)),
    Profile("Data Engineer", ("Data Engineer", "Analytics Engineer", "Senior Data Engineer"),
            ("Python", "Apache Spark", "Airflow", "dbt", "Snowflake", "Kafka", "BigQuery",
             "PostgreSQL", "Databricks", "Scala", "Docker"),
            ("Google Professional Data Engineer", "Databricks Certified Data Engineer")),
    Profile("DevOps Engineer",
            ("DevOps Engineer", "Site Reliability Engineer", "Platform Engineer"),
            ("Kubernetes", "Terraform", "Ansible", "Docker", "Prometheus", "Grafana", "Jenkins",
             "AWS", "Azure", "Helm", "Linux", "Bash"),
            ("Certified Kubernetes Administrator", "HashiCorp Certified Terraform Associate",
             "AWS Certified Solutions Architect")),
    Profile("Machine Learning Engineer", ("ML Engineer", "Data Scientist", "Research Engineer"),
            ("Python", "PyTorch", "TensorFlow", "scikit-learn", "pandas", "MLflow", "Kubernetes",
             "Hugging Face Transformers", "NumPy", "CUDA"),
            ("TensorFlow Developer Certificate", "AWS Certified Machine Learning Specialty")),
    Profile("Mobile Developer", ("iOS Developer", "Android Developer", "Mobile Engineer"),
            ("Swift", "Kotlin", "Flutter", "Dart", "Firebase", "SwiftUI", "Jetpack Compose",
             "Fastlane"),
            ("Associate Android Developer",)),
    Profile("Security Engineer", ("Security Engineer", "Application Security Engineer",
                                  "Security Analyst"),
            ("Burp Suite", "Wireshark", "Splunk", "Terraform", "AWS", "Linux", "Python",
             "Metasploit", "Kubernetes"),
            ("CISSP", "OSCP", "CompTIA Security+")),
    Profile("Full-Stack Developer", ("Full-Stack Developer", "Software Developer", "Web Developer"),
            ("TypeScript", "Node.js", "Express.js", "MongoDB", "PostgreSQL", "Docker", "GraphQL",
             "Ruby on Rails", "PHP", "Laravel", "MySQL"),
            ("MongoDB Certified Developer",)),
)

ALL_TECHNOLOGIES: tuple[str, ...] = tuple(sorted({t for p in PROFILES for t in p.technologies}))

# (city, country, the Faker locale whose names fit, the language spoken there)
CITIES: tuple[tuple[str, str, str, str], ...] = (
    ("Lyon", "France", "fr_FR", "French"),
    ("Paris", "France", "fr_FR", "French"),
    ("Toulouse", "France", "fr_FR", "French"),
    ("Berlin", "Germany", "de_DE", "German"),
    ("Munich", "Germany", "de_DE", "German"),
    ("Hamburg", "Germany", "de_DE", "German"),
    ("Vienna", "Austria", "de_AT", "German"),
    ("Madrid", "Spain", "es_ES", "Spanish"),
    ("Barcelona", "Spain", "es_ES", "Spanish"),
    ("Milan", "Italy", "it_IT", "Italian"),
    ("Rome", "Italy", "it_IT", "Italian"),
    ("Amsterdam", "Netherlands", "nl_NL", "Dutch"),
    ("Lisbon", "Portugal", "pt_PT", "Portuguese"),
    ("Warsaw", "Poland", "pl_PL", "Polish"),
    ("London", "United Kingdom", "en_GB", "English"),
    ("Manchester", "United Kingdom", "en_GB", "English"),
    ("Dublin", "Ireland", "en_IE", "English"),
    ("New York", "United States", "en_US", "English"),
    ("Austin", "United States", "en_US", "English"),
    ("Toronto", "Canada", "en_CA", "English"),
)

# (institution, city, country)
UNIVERSITIES: tuple[tuple[str, str, str], ...] = (
    ("Université Claude Bernard Lyon 1", "Lyon", "France"),
    ("INSA Lyon", "Lyon", "France"),
    ("Sorbonne Université", "Paris", "France"),
    ("Technical University of Munich", "Munich", "Germany"),
    ("Humboldt University of Berlin", "Berlin", "Germany"),
    ("Karlsruhe Institute of Technology", "Karlsruhe", "Germany"),
    ("TU Wien", "Vienna", "Austria"),
    ("Universidad Politécnica de Madrid", "Madrid", "Spain"),
    ("Politecnico di Milano", "Milan", "Italy"),
    ("Delft University of Technology", "Delft", "Netherlands"),
    ("University of Lisbon", "Lisbon", "Portugal"),
    ("Warsaw University of Technology", "Warsaw", "Poland"),
    ("University of Manchester", "Manchester", "United Kingdom"),
    ("University of Edinburgh", "Edinburgh", "United Kingdom"),
    ("Trinity College Dublin", "Dublin", "Ireland"),
    ("University of Texas at Austin", "Austin", "United States"),
    ("University of Toronto", "Toronto", "Canada"),
    ("ETH Zurich", "Zurich", "Switzerland"),
)

DEGREES: tuple[str, ...] = (
    "BSc Computer Science", "MSc Computer Science", "MSc Software Engineering",
    "BEng Electrical Engineering", "MSc Data Science", "BSc Mathematics",
    "MSc Information Security", "BSc Information Systems",
)

LANGUAGES: tuple[str, ...] = (
    "English", "French", "German", "Spanish", "Italian", "Dutch", "Portuguese", "Polish",
    "Japanese", "Mandarin",
)
LEVELS: tuple[str, ...] = ("Fluent", "Professional", "Intermediate", "Basic")

"""Word lists for a Nigerian-flavoured sample world.

Kept ASCII and free of quotes, backslashes and delimiters (, ; | tab) so every value can be
written into CSV and JSON Lines without quoting or escaping; the only non-ASCII text is the
accented variant the branch system adds on purpose (Latin-1 encodable).
"""

from __future__ import annotations

MALE_FIRST = (
    "Chinedu Emeka Oluwaseun Tunde Babatunde Ibrahim Musa Abubakar Chukwuemeka Obinna Ikenna "
    "Segun Femi Olumide Yusuf Aliyu Suleiman Kelechi Nnamdi Uche Adewale Kayode Gbenga Ifeanyi "
    "Chidi Ahmed Sani Danladi Efosa Osaze Ekene Tobi Samuel David John Michael Daniel Joseph "
    "Peter Emmanuel Victor Godwin Friday Sunday Bello Haruna Usman Garba Idris Olusegun Rotimi "
    "Tochukwu Ugochukwu Jide Lanre Wale Dayo Bayo Kunle Ayodeji Mustapha Kabiru Nasiru"
).split()

FEMALE_FIRST = (
    "Ngozi Chiamaka Adaeze Amaka Chioma Funmilayo Folake Yetunde Aisha Fatima Zainab Hauwa Amina "
    "Blessing Grace Joy Patience Nkechi Ifeoma Uchechi Temitope Bukola Titilayo Omolara Kemi Bisi "
    "Halima Maryam Hadiza Khadija Esther Mercy Favour Precious Chinonso Oluchi Adaora Ebele Nneka "
    "Osas Ivie Efe Toyin Sade Ronke Mariam Rukayat Lami Comfort Gift Damilola Morenike Abimbola "
    "Yewande Ese Ijeoma Chisom Ngozika Rahila Salamatu Asabe"
).split()

SURNAMES = (
    "Okafor Okeke Eze Nwosu Obi Okonkwo Adeyemi Adebayo Ogunleye Bakare Balogun Olawale Ibrahim "
    "Abdullahi Mohammed Bello Usman Yusuf Danjuma Musa Aliyu Lawal Suleiman Okoro Nwachukwu "
    "Chukwu Onyeka Uzoma Ezeh Igwe Obiora Oyelaran Afolabi Ojo Ogundipe Adekunle Oladipo Akinola "
    "Fashola Osagie Edosa Igbinedion Omoregie Ekpo Bassey Effiong Okon Etim Udoh Johnson Williams "
    "Okpara Nnaji Agu Ani Odili Dike Kalu Akpan Abiodun Ayodele Babalola Olatunji Oyewole Salami "
    "Garba Sani Tanko Yakubu Aminu Shehu Tijani Ogbonna Nwankwo Anyanwu Emenike Adeleke Oyinlola "
    "Okwuosa Onuoha Ibekwe Madu Ogunbiyi Oshodi Adewumi Olaniyan Ajayi Ogunsanya Iwu Ezekwesili "
    "Nwafor Mbah Ugwu Olayinka Adesina"
).split()

# city, weight, branch codes serving it, postcode prefixes
CITIES = (
    ("Lagos", 0.33, ("LAG01", "LAG02", "LAG03"), ("100", "101", "102", "105", "106")),
    ("Abuja", 0.12, ("ABJ01", "ABJ02"), ("900", "901")),
    ("Ibadan", 0.08, ("IBD01",), ("200",)),
    ("Kano", 0.08, ("KAN01",), ("700",)),
    ("Port Harcourt", 0.08, ("PHC01",), ("500",)),
    ("Enugu", 0.05, ("ENU01",), ("400",)),
    ("Benin City", 0.05, ("BEN01",), ("300",)),
    ("Kaduna", 0.04, ("ABJ02",), ("800",)),
    ("Abeokuta", 0.04, ("LAG02",), ("110",)),
    ("Onitsha", 0.04, ("ENU01",), ("434",)),
    ("Jos", 0.04, ("ABJ01",), ("930",)),
    ("Warri", 0.05, ("BEN01",), ("332",)),
)

STREETS = (
    "Adeola Odeku", "Allen", "Herbert Macaulay", "Awolowo", "Ahmadu Bello", "Broad", "Marina",
    "Ogunlana", "Ikorodu", "Bode Thomas", "Opebi", "Admiralty", "Aminu Kano", "Murtala Mohammed",
    "Nnamdi Azikiwe", "Tafawa Balewa", "Okpara", "Aba", "Ring", "Sapele", "Airport", "Stadium",
    "Zik", "Yakubu Gowon", "Obafemi Awolowo", "Isaac John", "Ajose Adeogun", "Kingsway", "Aguiyi Ironsi",
    "Ogui", "Trans Amadi", "Ikwerre", "Mission", "Lugard", "Independence", "Ojuelegba", "Toyin",
    "Oba Akran", "Akin Adesola", "Agodi",
)
STREET_TYPES = ("Street", "Road", "Avenue", "Close", "Crescent", "Way")

MOBILE_PREFIXES = (
    "803", "806", "813", "816", "810", "814", "903", "906", "703", "706", "802", "808", "812",
    "701", "708", "902", "907", "805", "807", "815", "905", "809",
)
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "ymail.com", "yahoo.co.uk")
EMAIL_DOMAIN_WEIGHTS = (0.5, 0.25, 0.08, 0.07, 0.05, 0.05)
EMAIL_DOMAIN_TYPOS = ("gmial.com", "yahooo.com", "outlok.com", "hotmial.com", "ymial.com", "yaho.co.uk")

TITLES_M = ("Mr", "Mr", "Mr", "Dr", "Chief", "Alhaji")
TITLES_F = ("Mrs", "Ms", "Miss", "Mrs", "Dr", "Hajiya")

ORG_WORDS = (
    ("Logistics", "transport"), ("Foods", "food_and_beverage"), ("Energy", "energy"),
    ("Textiles", "manufacturing"), ("Pharma", "healthcare"), ("Construction", "construction"),
    ("Agro", "agriculture"), ("Motors", "automotive"), ("Telecom", "telecoms"),
    ("Petroleum", "oil_and_gas"), ("Holdings", "financial_services"), ("Ventures", "trading"),
    ("Industries", "manufacturing"), ("Technologies", "technology"), ("Farms", "agriculture"),
    ("Hospitality", "hospitality"), ("Media", "media"), ("Clinics", "healthcare"),
)
ORG_SUFFIXES = ("Ltd", "Limited", "Plc", "Nigeria Ltd")

JOB_TITLES = (
    "Managing Director", "Finance Manager", "HR Manager", "Procurement Officer", "Chief Accountant",
    "Operations Manager", "Admin Officer", "Head of Treasury",
)

# (code, scheme name, association)
SCHEMES = (
    ("NMA", "Doctors Banking Scheme", "Nigerian Medical Association"),
    ("NBA", "Lawyers Premier Scheme", "Nigerian Bar Association"),
    ("NUT", "Teachers Savings Scheme", "Nigeria Union of Teachers"),
    ("ICAN", "Accountants Plus", "Institute of Chartered Accountants of Nigeria"),
    ("NSE", "Engineers Club Account", "Nigerian Society of Engineers"),
    ("PCN", "Pharmacists Scheme", "Pharmacists Council of Nigeria"),
    ("NANNM", "Nurses Care Scheme", "National Association of Nigeria Nurses and Midwives"),
    ("NIPR", "Communicators Scheme", "Nigerian Institute of Public Relations"),
)

CREDIT_REASONS_APPROVED = ("income verified", "good repayment history", "within policy")
CREDIT_REASONS_REFUSED = ("affordability", "missed payments", "high utilisation", "insufficient history")

MOBILE_SCREENS = {
    "login": ("login",),
    "view_product": ("products", "product_detail", "offers"),
    "transfer": ("transfer", "beneficiaries"),
    "bill_payment": ("bills", "airtime"),
    "support_chat": ("help", "chat"),
}

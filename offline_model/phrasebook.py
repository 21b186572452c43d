"""The offline model's fixed phrases in German, French and Spanish, and the words it understands in them.

SENTENCES maps an English line of `phrasing` and `results` (a regex; named groups are the values in
it: order numbers, names, dates) to its wording in each language; FRAGMENTS words those values
("order **A1001**", "Delivered", "28 Nov 2026"). GLOSSES read a customer's common words as the
English the intents and slots know ("Bestellung" is "order", "zurückgeben" is "return"). Every
question keeps a phrase `phrasing.ASKED_MARKERS` reads back on the next turn.
"""

from __future__ import annotations

LANGUAGES = ("de", "fr", "es")

# (English pattern, {language: wording}); the longest first where one contains another.
SENTENCES: list[tuple[str, dict[str, str]]] = [
    (
        r"Thanks for the photo: I've added it to this conversation, so our team can see it\.",
        {
            "de": "Danke für das Foto: Ich habe es diesem Gespräch hinzugefügt, damit unser Team es sehen kann.",
            "fr": "Merci pour la photo : je l'ai ajoutée à cette conversation pour que notre équipe puisse la voir.",
            "es": "Gracias por la foto: la he añadido a esta conversación para que nuestro equipo pueda verla.",
        },
    ),
    (
        r"If it shows a damaged or wrong item, a person from our team can sort it out\.",
        {
            "de": "Wenn sie einen beschädigten oder falschen Artikel zeigt, kann sich eine Person aus unserem Team "
            "darum kümmern.",
            "fr": "Si elle montre un article endommagé ou erroné, une personne de notre équipe peut s'en occuper.",
            "es": "Si muestra un artículo dañado o equivocado, una persona de nuestro equipo puede solucionarlo.",
        },
    ),
    (
        r"Sorry, I didn't quite catch that\. I can help with \*\*order status\*\*, \*\*shipment tracking\*\* and "
        r"\*\*returns\*\* — just tell me what you need and your order number\. I can also connect you with a person "
        r"from our team\.",
        {
            "de": "Entschuldigung, das habe ich nicht ganz verstanden. Auf Deutsch verstehe ich nur einfache Anliegen: "
            "den **Bestellstatus**, die **Sendungsverfolgung** und **Rücksendungen** — nennen Sie mir dazu Ihre "
            "Bestellnummer. Möchten Sie, dass ich Sie mit einer Person aus unserem Team verbinde?",
            "fr": "Désolé, je n'ai pas bien compris. En français, je ne comprends que les demandes simples : le "
            "**statut d'une commande**, le **suivi d'un colis** et les **retours** — indiquez-moi votre numéro de "
            "commande. Voulez-vous que je vous mette en relation avec une personne de notre équipe ?",
            "es": "Lo siento, no he entendido bien. En español solo entiendo peticiones sencillas: el **estado de un "
            "pedido**, el **seguimiento de un envío** y las **devoluciones**; dime tu número de pedido. ¿Quieres que "
            "te ponga en contacto con una persona de nuestro equipo?",
        },
    ),
    (
        r"I can check the \*\*status of an order\*\*, \*\*track a parcel\*\* and \*\*start a return\*\*\. "
        r"I can also connect you with a person from our team\.",
        {
            "de": "Ich kann den **Status einer Bestellung** prüfen, **ein Paket verfolgen** und **eine Rücksendung "
            "starten**. Ich kann Sie auch mit einer Person aus unserem Team verbinden.",
            "fr": "Je peux vérifier le **statut d'une commande**, **suivre un colis** et **ouvrir un retour**. Je peux "
            "aussi vous mettre en relation avec une personne de notre équipe.",
            "es": "Puedo consultar el **estado de un pedido**, **seguir un envío** e **iniciar una devolución**. "
            "También puedo ponerte en contacto con una persona de nuestro equipo.",
        },
    ),
    (
        r"Would you like me to connect you with a person from our team\?",
        {
            "de": "Möchten Sie, dass ich Sie mit einer Person aus unserem Team verbinde?",
            "fr": "Voulez-vous que je vous mette en relation avec une personne de notre équipe ?",
            "es": "¿Quieres que te ponga en contacto con una persona de nuestro equipo?",
        },
    ),
    (
        r"Hi there! I'm the shop's virtual assistant\.",
        {
            "de": "Hallo! Ich bin der virtuelle Assistent des Shops.",
            "fr": "Bonjour ! Je suis l'assistant virtuel de la boutique.",
            "es": "¡Hola! Soy el asistente virtual de la tienda.",
        },
    ),
    (
        r"Hi (?P<name>[^!\n]{1,60})! I'm the shop's virtual assistant\.",
        {
            "de": "Hallo {name}! Ich bin der virtuelle Assistent des Shops.",
            "fr": "Bonjour {name} ! Je suis l'assistant virtuel de la boutique.",
            "es": "¡Hola, {name}! Soy el asistente virtual de la tienda.",
        },
    ),
    (
        r"How can I help you today\?",
        {
            "de": "Wie kann ich Ihnen heute helfen?",
            "fr": "Comment puis-je vous aider aujourd'hui ?",
            "es": "¿En qué puedo ayudarte hoy?",
        },
    ),
    (
        r"You're welcome — thanks for getting in touch, and have a great day!",
        {
            "de": "Gern geschehen — danke für Ihre Nachricht, und einen schönen Tag noch!",
            "fr": "Avec plaisir — merci de nous avoir contactés, et bonne journée !",
            "es": "¡De nada! Gracias por escribirnos y que tengas un buen día.",
        },
    ),
    (
        r"You're welcome!",
        {"de": "Gern geschehen!", "fr": "Avec plaisir !", "es": "¡De nada!"},
    ),
    (
        r"Is there anything else I can help you with\?",
        {
            "de": "Kann ich Ihnen sonst noch helfen?",
            "fr": "Puis-je vous aider pour autre chose ?",
            "es": "¿Puedo ayudarte en algo más?",
        },
    ),
    (
        r"Thanks for getting in touch — have a great day!",
        {
            "de": "Danke für Ihre Nachricht — einen schönen Tag noch!",
            "fr": "Merci de nous avoir contactés — bonne journée !",
            "es": "Gracias por escribirnos. ¡Que tengas un buen día!",
        },
    ),
    (
        r"I'm really sorry this has been frustrating\.",
        {
            "de": "Es tut mir wirklich leid, dass das so ärgerlich war.",
            "fr": "Je suis vraiment désolé que ce soit si frustrant.",
            "es": "Siento mucho que esto haya sido tan frustrante.",
        },
    ),
    (
        r"I'm sorry for the trouble\.",
        {
            "de": "Entschuldigen Sie die Umstände.",
            "fr": "Désolé pour le désagrément.",
            "es": "Disculpa las molestias.",
        },
    ),
    (
        r"Sorry for the confusion!",
        {
            "de": "Entschuldigung für die Verwirrung!",
            "fr": "Désolé pour la confusion !",
            "es": "¡Perdona la confusión!",
        },
    ),
    (
        r"What would you like to do\?",
        {"de": "Was möchten Sie tun?", "fr": "Que souhaitez-vous faire ?", "es": "¿Qué te gustaría hacer?"},
    ),
    (
        r"No problem — I'll keep helping you here\. What would you like to do next\?",
        {
            "de": "Kein Problem — ich helfe Ihnen hier weiter. Was möchten Sie als Nächstes tun?",
            "fr": "Pas de problème — je continue à vous aider ici. Que souhaitez-vous faire ensuite ?",
            "es": "No hay problema: sigo ayudándote aquí. ¿Qué quieres hacer ahora?",
        },
    ),
    (
        r"Okay, I haven't opened a return\.",
        {
            "de": "In Ordnung, ich habe keine Rücksendung angelegt.",
            "fr": "D'accord, je n'ai pas ouvert de retour.",
            "es": "De acuerdo, no he abierto ninguna devolución.",
        },
    ),
    (
        r"Okay, I've left the order as it is\.",
        {
            "de": "In Ordnung, ich habe die Bestellung so gelassen, wie sie ist.",
            "fr": "D'accord, j'ai laissé la commande telle quelle.",
            "es": "De acuerdo, he dejado el pedido como estaba.",
        },
    ),
    (
        r"Thanks, I've noted \*\*(?P<email>[^*\n]+)\*\*\. What can I help you with — an order's status, tracking a "
        r"parcel, or a return\?",
        {
            "de": "Danke, ich habe **{email}** notiert. Wobei kann ich helfen — beim Status einer Bestellung, der "
            "Sendungsverfolgung oder einer Rücksendung?",
            "fr": "Merci, j'ai noté **{email}**. Que puis-je faire pour vous — le statut d'une commande, le suivi d'un "
            "colis ou un retour ?",
            "es": "Gracias, he anotado **{email}**. ¿En qué puedo ayudarte: el estado de un pedido, el seguimiento de "
            "un envío o una devolución?",
        },
    ),
    (
        r"I'm sorry, I don't know the answer to that, and I'd rather not guess: here I can help with \*\*order "
        r"status\*\*, \*\*shipment tracking\*\* and \*\*returns\*\*\.",
        {
            "de": "Das weiß ich leider nicht, und raten möchte ich nicht: Hier kann ich beim **Bestellstatus**, der "
            "**Sendungsverfolgung** und bei **Rücksendungen** helfen.",
            "fr": "Je ne connais pas la réponse et je préfère ne pas deviner : ici, je peux vous aider pour le "
            "**statut des commandes**, le **suivi des colis** et les **retours**.",
            "es": "Lo siento, no sé la respuesta y prefiero no adivinar: aquí puedo ayudarte con el **estado de los "
            "pedidos**, el **seguimiento de envíos** y las **devoluciones**.",
        },
    ),
    # --- questions (each keeps its marker for phrasing.asked_in) ---------------------------------
    (
        r"Thanks! To (?P<purpose>[^,\n]+), what's the email address you used for (?P<about>[^?\n]+)\?",
        {
            "de": "Danke! Um {purpose}: Welche E-Mail-Adresse haben Sie für {about} verwendet?",
            "fr": "Merci ! Pour {purpose}, quelle adresse e-mail avez-vous utilisée pour {about} ?",
            "es": "¡Gracias! Para {purpose}, ¿qué correo electrónico usaste para {about}?",
        },
    ),
    (
        r"Sure, I can (?P<purpose>[^.\n]+)\. Which order is it about\? Please send me the order number \(you'll find "
        r"it in your order confirmation email\)\.",
        {
            "de": "Gerne. Um welche Bestellung geht es? Wie lautet die Bestellnummer? (Sie steht in Ihrer "
            "Bestellbestätigung.)",
            "fr": "Bien sûr, je peux {purpose}. De quelle commande s'agit-il ? Quel est le numéro de commande ? (Il "
            "figure dans votre e-mail de confirmation.)",
            "es": "Claro, puedo {purpose}. ¿De qué pedido se trata? ¿Cuál es el número de pedido? (Lo encontrarás "
            "en el correo de confirmación.)",
        },
    ),
    (
        r"I can (?P<purpose>[^.\n]+)\. Could you send me your order number and the email address you used to place "
        r"the order\?",
        {
            "de": "Gerne. Würden Sie mir dafür Ihre Bestellnummer und die E-Mail-Adresse schicken, mit der Sie "
            "bestellt haben?",
            "fr": "Je peux {purpose}. Pouvez-vous m'envoyer votre numéro de commande et l'adresse e-mail utilisée "
            "pour la commande ?",
            "es": "Puedo {purpose}. ¿Me envías tu número de pedido y el correo electrónico con el que hiciste el "
            "pedido?",
        },
    ),
    (
        r"I first need to confirm that order is yours\. What's the email address you used to place it\?",
        {
            "de": "Zuerst muss ich bestätigen, dass die Bestellung Ihnen gehört. Mit welcher E-Mail-Adresse haben Sie "
            "bestellt?",
            "fr": "Je dois d'abord vérifier que cette commande est bien la vôtre. Quelle adresse e-mail avez-vous "
            "utilisée pour la passer ?",
            "es": "Primero tengo que confirmar que el pedido es tuyo. ¿Qué correo electrónico usaste para hacerlo?",
        },
    ),
    (
        r"Sorry, I couldn't find \"(?P<named>[^\"\n]+)\" in order \*\*(?P<order>[^*\n]+)\*\*\.",
        {
            "de": "Entschuldigung, „{named}“ finde ich in Bestellung **{order}** nicht.",
            "fr": "Désolé, je ne trouve pas « {named} » dans la commande **{order}**.",
            "es": "Lo siento, no encuentro «{named}» en el pedido **{order}**.",
        },
    ),
    (
        r"Sorry, I couldn't match that to an item in order \*\*(?P<order>[^*\n]+)\*\*\.",
        {
            "de": "Entschuldigung, das kann ich keinem Artikel in Bestellung **{order}** zuordnen.",
            "fr": "Désolé, je ne retrouve pas cet article dans la commande **{order}**.",
            "es": "Lo siento, no encuentro ese artículo en el pedido **{order}**.",
        },
    ),
    (
        r"Which item would you like to return: (?P<choices>[^\n]+?)\?",
        {
            "de": "Welchen Artikel möchten Sie zurückgeben: {choices}?",
            "fr": "Quel article souhaitez-vous retourner : {choices} ?",
            "es": "¿Qué artículo quieres devolver: {choices}?",
        },
    ),
    (
        r"Which item would you like to return\?",
        {
            "de": "Welchen Artikel möchten Sie zurückgeben?",
            "fr": "Quel article souhaitez-vous retourner ?",
            "es": "¿Qué artículo quieres devolver?",
        },
    ),
    (
        r"(?:Before I open it: what's|What's) the reason for the return of the (?P<item>[^?\n]+)\? For example: it "
        r"arrived damaged or doesn't work, it doesn't fit, it's the wrong item, or you no longer need it\.",
        {
            "de": "Was ist der Grund für die Rücksendung von {item}? Zum Beispiel: Der Artikel kam beschädigt an oder "
            "funktioniert nicht, er passt nicht, es ist der falsche Artikel, oder Sie brauchen ihn nicht mehr.",
            "fr": "Quel est le motif du retour de {item} ? Par exemple : l'article est arrivé abîmé ou ne fonctionne "
            "pas, il ne convient pas, ce n'est pas le bon article, ou vous n'en avez plus besoin.",
            "es": "¿Cuál es el motivo de la devolución de {item}? Por ejemplo: llegó dañado o no funciona, no te "
            "queda bien, es el artículo equivocado o ya no lo necesitas.",
        },
    ),
    (
        r"Shall I open a return for \*\*(?P<what>[^*\n]+)\*\*(?P<source> from order \*\*[^*\n]+\*\*)?"
        r"(?: \(reason: (?P<reason>[^)\n]+)\))?\?",
        {
            "de": "Soll ich eine Rücksendung für **{what}**{source}{reason} anlegen?",
            "fr": "Dois-je ouvrir un retour pour **{what}**{source}{reason} ?",
            "es": "¿Quieres que abra una devolución de **{what}**{source}{reason}?",
        },
    ),
    (
        r"Shall I cancel order \*\*(?P<order>[^*\n]+)\*\*\? This can't be undone\.",
        {
            "de": "Soll ich die Bestellung **{order}** stornieren? Das lässt sich nicht rückgängig machen.",
            "fr": "Dois-je annuler la commande **{order}** ? Cette action est irréversible.",
            "es": "¿Quieres que cancele el pedido **{order}**? No se puede deshacer.",
        },
    ),
    (
        r"I'm sorry, the \*\*(?P<item>[^*\n]+)\*\* from order \*\*(?P<order>[^*\n]+)\*\* isn't eligible for a return\.",
        {
            "de": "Leider kann **{item}** aus Bestellung **{order}** nicht zurückgegeben werden.",
            "fr": "Désolé, l'article **{item}** de la commande **{order}** ne peut pas être retourné.",
            "es": "Lo siento, **{item}** del pedido **{order}** no admite devolución.",
        },
    ),
    # --- results ---------------------------------------------------------------------------------
    (
        r"Order \*\*(?P<order>[^*\n]+)\*\* is \*\*(?P<status>[^*\n]+)\*\*(?: \(placed (?P<date>\d{1,2} \w{3} \d{4})"
        r"(?:, total (?P<total>[^)\n]+))?\))?\.",
        {
            "de": "Bestellung **{order}**: **{status}**{placed}.",
            "fr": "Commande **{order}** : **{status}**{placed}.",
            "es": "Pedido **{order}**: **{status}**{placed}.",
        },
    ),
    (
        r"It was delivered by (?P<carrier>[^\n]+?)(?: on \*\*(?P<date>[^*\n]+)\*\*)?"
        r"(?: \(tracking number \*\*(?P<tracking>[^*\n]+)\*\*\))?\.",
        {
            "de": "Zugestellt von {carrier}{on}{tracking_note}.",
            "fr": "Livrée par {carrier}{on}{tracking_note}.",
            "es": "Entregado por {carrier}{on}{tracking_note}.",
        },
    ),
    (
        r"It's with (?P<carrier>[^\n(:]+?)(?: \(tracking number \*\*(?P<tracking>[^*\n]+)\*\*\))?: "
        r"\*\*(?P<status>[^*\n]+)\*\*(?:, estimated delivery \*\*(?P<eta>[^*\n]+)\*\*)?\.",
        {
            "de": "Das Paket ist bei {carrier}{tracking_note}: **{status}**{eta_note}.",
            "fr": "Le colis est chez {carrier}{tracking_note} : **{status}**{eta_note}.",
            "es": "El paquete está con {carrier}{tracking_note}: **{status}**{eta_note}.",
        },
    ),
    (
        r"Here's the latest on your parcel for order \*\*(?P<order>[^*\n]+)\*\*\.",
        {
            "de": "Hier der aktuelle Stand Ihres Pakets zu Bestellung **{order}**.",
            "fr": "Voici les dernières nouvelles de votre colis pour la commande **{order}**.",
            "es": "Esto es lo último sobre tu envío del pedido **{order}**.",
        },
    ),
    (
        r"Latest update: (?P<update>[^\n]+?)\.(?=\s|$)",
        {
            "de": "Letzte Meldung: {update}.",
            "fr": "Dernière mise à jour : {update}.",
            "es": "Última novedad: {update}.",
        },
    ),
    (
        r"Done! I've opened return \*\*(?P<label>[^*\n]+)\*\* for (?P<what>[^\n]+?)(?P<source> from order "
        r"\*\*[^*\n]+\*\*)?\.",
        {
            "de": "Erledigt! Ich habe die Rücksendung **{label}** für {what}{source} angelegt.",
            "fr": "C'est fait ! J'ai ouvert le retour **{label}** pour {what}{source}.",
            "es": "¡Hecho! He abierto la devolución **{label}** de {what}{source}.",
        },
    ),
    (
        r"Its status is \*\*(?P<status>[^*\n]+)\*\*\.",
        {"de": "Status: **{status}**.", "fr": "Statut : **{status}**.", "es": "Estado: **{status}**."},
    ),
    (
        r"Once the return is approved and we receive the item, you'll be refunded \*\*(?P<refund>[^*\n]+)\*\*\.",
        {
            "de": "Sobald die Rücksendung genehmigt ist und der Artikel bei uns ankommt, erstatten wir Ihnen "
            "**{refund}**.",
            "fr": "Une fois le retour approuvé et l'article reçu, vous serez remboursé de **{refund}**.",
            "es": "Cuando se apruebe la devolución y recibamos el artículo, te reembolsaremos **{refund}**.",
        },
    ),
    (
        r"Done — order \*\*(?P<order>[^*\n]+)\*\* has been cancelled\.",
        {
            "de": "Erledigt — die Bestellung **{order}** wurde storniert.",
            "fr": "C'est fait — la commande **{order}** a été annulée.",
            "es": "Hecho: el pedido **{order}** se ha cancelado.",
        },
    ),
    (
        r"A person from our support team will join this conversation shortly\.",
        {
            "de": "Gleich meldet sich hier jemand aus unserem Support-Team.",
            "fr": "Une personne de notre équipe d'assistance va bientôt rejoindre cette conversation.",
            "es": "Una persona de nuestro equipo de soporte se unirá a esta conversación en breve.",
        },
    ),
    (
        r"I've passed your conversation to our support team\. A person will reply here as soon as possible\.",
        {
            "de": "Ich habe Ihr Gespräch an unser Support-Team weitergegeben. Jemand antwortet Ihnen hier so bald wie "
            "möglich.",
            "fr": "J'ai transmis votre conversation à notre équipe d'assistance. Une personne vous répondra ici dès "
            "que possible.",
            "es": "He pasado tu conversación a nuestro equipo de soporte. Una persona te responderá aquí lo antes "
            "posible.",
        },
    ),
    (
        r"Here are your recent orders:",
        {"de": "Ihre letzten Bestellungen:", "fr": "Vos commandes récentes :", "es": "Tus pedidos recientes:"},
    ),
    (
        r"Which one would you like to know more about\?",
        {
            "de": "Zu welcher möchten Sie mehr wissen?",
            "fr": "Laquelle vous intéresse ?",
            "es": "¿Sobre cuál quieres saber más?",
        },
    ),
    (
        r"Could you double-check the order number and the email address you used when ordering\? The order number "
        r"is in your confirmation email\.",
        {
            "de": "Könnten Sie die Bestellnummer und die E-Mail-Adresse, mit der Sie bestellt haben, noch einmal "
            "prüfen? Die Bestellnummer steht in Ihrer Bestellbestätigung.",
            "fr": "Pouvez-vous vérifier le numéro de commande et l'adresse e-mail utilisée lors de la commande ? Le "
            "numéro figure dans votre e-mail de confirmation.",
            "es": "¿Puedes comprobar el número de pedido y el correo electrónico con el que hiciste el pedido? El "
            "número aparece en el correo de confirmación.",
        },
    ),
    (
        r"Could you double-check the order number\? It's in your order confirmation email\.",
        {
            "de": "Könnten Sie die Bestellnummer noch einmal prüfen? Sie steht in Ihrer Bestellbestätigung.",
            "fr": "Pouvez-vous vérifier le numéro de commande ? Il figure dans votre e-mail de confirmation.",
            "es": "¿Puedes comprobar el número de pedido? Aparece en el correo de confirmación.",
        },
    ),
]

# Values inside a sentence: (English pattern, {language: wording}), applied in order to each value.
FRAGMENTS: list[tuple[str, dict[str, str]]] = [
    (r"^look that up$", {"de": "das nachzusehen", "fr": "vérifier cela", "es": "consultarlo"}),
    (r"^track your parcel$", {"de": "Ihr Paket zu verfolgen", "fr": "suivre votre colis", "es": "seguir tu envío"}),
    (
        r"^start your return$",
        {"de": "Ihre Rücksendung zu starten", "fr": "ouvrir votre retour", "es": "iniciar tu devolución"},
    ),
    (
        r"^cancel your order$",
        {"de": "Ihre Bestellung zu stornieren", "fr": "annuler votre commande", "es": "cancelar tu pedido"},
    ),
    (
        r"^find your orders$",
        {"de": "Ihre Bestellungen zu finden", "fr": "trouver vos commandes", "es": "buscar tus pedidos"},
    ),
    (r"^order \*\*(.+)\*\*$", {"de": r"Bestellung **\1**", "fr": r"la commande **\1**", "es": r"el pedido **\1**"}),
    (r"^the order$", {"de": "die Bestellung", "fr": "la commande", "es": "el pedido"}),
    (r"^your item$", {"de": "Ihren Artikel", "fr": "votre article", "es": "tu artículo"}),
    (
        r"^ from order \*\*(.+)\*\*$",
        {"de": r" aus Bestellung **\1**", "fr": r" de la commande **\1**", "es": r" del pedido **\1**"},
    ),
    (r" or (\*\*)", {"de": r" oder \1", "fr": r" ou \1", "es": r" o \1"}),
    (
        r" \(not returnable\)",
        {"de": " (nicht rückgabefähig)", "fr": " (non retournable)", "es": " (no admite devolución)"},
    ),
    # statuses (orders, shipments, returns) and reasons, as the shop's labels and the model's words say them
    (r"^placed$", {"de": "aufgegeben", "fr": "passée", "es": "realizado"}),
    (r"^paid$", {"de": "bezahlt", "fr": "payée", "es": "pagado"}),
    (r"^fulfilled$", {"de": "versandbereit", "fr": "préparée", "es": "preparado"}),
    (r"^shipped$", {"de": "versandt", "fr": "expédiée", "es": "enviado"}),
    (r"^delivered$", {"de": "zugestellt", "fr": "livrée", "es": "entregado"}),
    (r"^cancelled$", {"de": "storniert", "fr": "annulée", "es": "cancelado"}),
    (r"^label created$", {"de": "Versandetikett erstellt", "fr": "étiquette créée", "es": "etiqueta creada"}),
    (r"^in transit$", {"de": "unterwegs", "fr": "en transit", "es": "en tránsito"}),
    (r"^out for delivery$", {"de": "in Zustellung", "fr": "en cours de livraison", "es": "en reparto"}),
    (r"^delivery problem$", {"de": "Zustellproblem", "fr": "problème de livraison", "es": "problema de entrega"}),
    (r"^requested$", {"de": "beantragt", "fr": "demandé", "es": "solicitada"}),
    (r"^approved$", {"de": "genehmigt", "fr": "approuvé", "es": "aprobada"}),
    (r"^rejected$", {"de": "abgelehnt", "fr": "refusé", "es": "rechazada"}),
    (r"^received$", {"de": "eingegangen", "fr": "reçu", "es": "recibida"}),
    (r"^refunded$", {"de": "erstattet", "fr": "remboursé", "es": "reembolsada"}),
    (r"^wrong size$", {"de": "falsche Größe", "fr": "mauvaise taille", "es": "talla equivocada"}),
    (r"^defective$", {"de": "defekt", "fr": "défectueux", "es": "defectuoso"}),
    (r"^wrong item$", {"de": "falscher Artikel", "fr": "mauvais article", "es": "artículo equivocado"}),
    (r"^not needed$", {"de": "nicht mehr benötigt", "fr": "plus nécessaire", "es": "ya no lo necesito"}),
    (r"^other$", {"de": "anderer Grund", "fr": "autre", "es": "otro motivo"}),
]
MONTHS = {
    "de": "Jan Feb Mär Apr Mai Jun Jul Aug Sep Okt Nov Dez",
    "fr": "janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc.",
    "es": "ene feb mar abr may jun jul ago sept oct nov dic",
}
# Optional parts of a sentence, worded around their value.
AROUND = {
    "placed": {
        "de": " (aufgegeben am {date}{total})",
        "fr": " (passée le {date}{total})",
        "es": " (realizado el {date}{total})",
    },
    "total": {"de": ", Summe {total}", "fr": ", total {total}", "es": ", total {total}"},
    "on": {"de": " am **{date}**", "fr": " le **{date}**", "es": " el **{date}**"},
    "tracking_note": {
        "de": " (Sendungsnummer **{tracking}**)",
        "fr": " (numéro de suivi **{tracking}**)",
        "es": " (número de seguimiento **{tracking}**)",
    },
    "eta_note": {
        "de": ", voraussichtliche Zustellung **{eta}**",
        "fr": ", livraison prévue **{eta}**",
        "es": ", entrega prevista **{eta}**",
    },
    "reason": {"de": " (Grund: {reason})", "fr": " (motif : {reason})", "es": " (motivo: {reason})"},
}
# Said once under an answer with a part the model could only word in English (a tool's own message).
ONLY_ENGLISH = {
    "de": "_Einen Teil dieser Antwort kann ich leider nur auf Englisch geben._ Möchten Sie, dass ich Sie mit einer "
    "Person aus unserem Team verbinde?",
    "fr": "_Je ne peux malheureusement donner une partie de cette réponse qu'en anglais._ Voulez-vous que je vous "
    "mette en relation avec une personne de notre équipe ?",
    "es": "_Lo siento, parte de esta respuesta solo puedo dártela en inglés._ ¿Quieres que te ponga en contacto con "
    "una persona de nuestro equipo?",
}

# A customer's words read as English (regex, English), per language; applied in order, case-insensitive.
GLOSSES: dict[str, list[tuple[str, str]]] = {
    "de": [
        (r"^\W*(hallo|guten (tag|morgen|abend)|servus|moin|grüß gott|hi)\b", "hello"),
        (r"\b(vielen dank|danke schön|dankeschön|danke)\b", "thanks"),
        (r"\b(tschüss|auf wiedersehen|bis bald)\b", "goodbye"),
        (r"^\W*(ja|jawohl|gerne|genau|klar|einverstanden)\b", "yes"),
        (r"^\W*(nein|nee|lieber nicht)\b", "no"),
        (r"\b(bestellnummer)\b", "order number"),
        (r"\b(sendungsverfolgung|sendungsnummer|verfolgen|nachverfolgen)\b", "tracking"),
        (r"\bbestellungen\b", "orders"),
        (r"\b(bestellung|auftrag)\b", "order"),
        (r"\b(wo ist|wo bleibt|wie ist der stand)\b", "where is"),
        (r"\b(meine|meiner|meinen|meinem|mein)\b", "my"),
        (r"\b(paket|sendung|lieferung)\b", "parcel"),
        (r"\b(zugestellt|angekommen|ankommen|kommt an)\b", "arrive"),
        (
            r"\b(zurückgeben|zurückschicken|zurücksenden|rücksendung|retoure|retournieren|umtauschen|"
            r"rückerstattung|erstattung|reklamieren|reklamation)\b",
            "return",
        ),
        (r"\b(kaputt|beschädigt|defekt|zerbrochen|gebrochen)\b", "damaged"),
        (r"\bpasst nicht\b", "doesn't fit"),
        (r"\bfalsche[nrs]? artikel\b", "wrong item"),
        (r"\b(brauche|benötige)\b.{0,20}\bnicht mehr\b", "no longer need"),
        (r"\bstornieren\b", "cancel"),
        (r"\b(mensch|menschen|mitarbeiter\w*|kundendienst|kundenservice|berater\w*|person)\b", "human"),
        (r"\b(erste[nrs]?)\b", "first"),
        (r"\b(zweite[nrs]?)\b", "second"),
        (r"\b(dritte[nrs]?)\b", "third"),
        (r"\b(letzte[nrs]?)\b", "last"),
        (r"\b(ich möchte|ich will|ich würde gerne|ich würde gern)\b", "i want"),
        (r"\b(nutzlos|unverschämt|frechheit|katastrophe|ärgerlich)\b", "useless"),
    ],
    "fr": [
        (r"^\W*(bonjour|bonsoir|salut|coucou)\b", "hello"),
        (r"\b(merci beaucoup|merci)\b", "thanks"),
        (r"\b(au revoir|à bientôt|bonne journée)\b", "goodbye"),
        (r"^\W*(oui|d'accord|d’accord|bien sûr|volontiers|ok)\b", "yes"),
        (r"^\W*(non|pas maintenant)\b", "no"),
        (r"\bnuméro de commande\b", "order number"),
        (r"\bcommandes\b", "orders"),
        (r"\bcommande\b", "order"),
        (r"\b(où est|où en est)\b", "where is"),
        (r"\b(ma|mon|mes)\b", "my"),
        (r"\b(suivre|suivi)\b", "track"),
        (r"\b(colis|paquet|livraison)\b", "parcel"),
        (r"\b(retourner|renvoyer|retour|rembourser|remboursement|échanger)\b", "return"),
        (r"\b(cassée?|endommagée?|abîmée?|défectueuse?)\b", "damaged"),
        (r"\bannuler\b", "cancel"),
        (r"\b(humain|personne|conseiller|conseillère|agent)\b", "human"),
        (r"\b(premier|première)\b", "first"),
        (r"\b(deuxième|seconde?)\b", "second"),
        (r"\b(dernier|dernière)\b", "last"),
        (r"\b(je veux|je voudrais|j'aimerais|j’aimerais)\b", "i want"),
    ],
    "es": [
        (r"^\W*(hola|buenos días|buenas tardes|buenas noches|buenas)\b", "hello"),
        (r"\b(muchas gracias|gracias)\b", "thanks"),
        (r"\b(adiós|hasta luego)\b", "goodbye"),
        (r"^\W*(sí|si|vale|claro|de acuerdo|por supuesto)\b", "yes"),
        (r"^\W*(no)\b", "no"),
        (r"\bnúmero de pedido\b", "order number"),
        (r"\bpedidos\b", "orders"),
        (r"\b(pedido|orden)\b", "order"),
        (r"\b(dónde está|donde esta|dónde anda)\b", "where is"),
        (r"\b(mis|mi)\b", "my"),
        (r"\b(seguimiento|rastrear|seguir)\b", "track"),
        (r"\b(paquete|envío|entrega)\b", "parcel"),
        (r"\b(devolver|devolución|devolucion|reembolso|cambiar)\b", "return"),
        (r"\b(rot[oa]|dañad[oa]|defectuos[oa]|estropead[oa])\b", "damaged"),
        (r"\bcancelar\b", "cancel"),
        (r"\b(humano|persona|agente|asesor)\b", "human"),
        (r"\b(primer[oa]?)\b", "first"),
        (r"\b(segund[oa])\b", "second"),
        (r"\b(últim[oa])\b", "last"),
        (r"\b(quiero|quisiera|me gustaría)\b", "i want"),
    ],
}

# The markers `phrasing.asked_in` reads back, as the questions above word them (lower case, no bold).
ASKED_MARKERS = {
    "email": r"e-mail-adresse[^?]*\?|adresse e-mail[^?]*\?|correo electrónico[^?]*\?",
    "order_number": r"bestellnummer[^?]*\?|numéro de commande[^?]*\?|número de pedido[^?]*\?",
    "item": r"welchen artikel|quel article|qué artículo",
    "reason": r"grund für die rücksendung|motif du retour|motivo de la devolución",
    "confirm_return": r"soll ich eine rücksendung|dois-je ouvrir un retour|quieres que abra una devolución",
    "confirm_cancel": r"soll ich die bestellung|dois-je annuler la commande|quieres que cancele el pedido",
    "offer_human": r"möchten sie, dass ich sie mit einer person|voulez-vous que je vous mette en relation|"
    r"quieres que te ponga en contacto",
}
FALLBACK_MARKERS = ("nicht ganz verstanden", "pas bien compris", "no he entendido bien")

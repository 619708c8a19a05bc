D='/work/wt/fixtures/tests/fixtures/bounces/reasons/'
def w(name, text, crlf=False):
    text=text.lstrip('\n')
    if crlf: text=text.replace('\n','\r\n')
    open(D+name,'w',newline='').write(text)

w('gmail-5.2.1-account-disabled.eml','''
Return-Path: <>
Received: by 2002:a05:6a10:8f0b:b0:4c1:1e6a:9d1 with SMTP id z11csp2197334pxr;
        Wed, 17 Nov 2021 06:33:19 -0800 (PST)
From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>
To: bounces@bounces.this-week-in-rust.org
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Date: Wed, 17 Nov 2021 06:33:19 -0800 (PST)
Message-ID: <61951f4f.1c69fb81.a2c31.3b7dSMTPIN_ADDED_MISSING@mx.google.example>
MIME-Version: 1.0
Content-Type: multipart/report; boundary="00000000000077d4cf05d0fd7a11"; report-type=delivery-status

--00000000000077d4cf05d0fd7a11
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to tomas.silva@gmail.example because the address couldn't be found, or is unable to receive mail.

The response was:

The email account that you tried to reach is disabled.

--00000000000077d4cf05d0fd7a11
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.example
Received-From-MTA: dns; relay.this-week-in-rust.org
Arrival-Date: Wed, 17 Nov 2021 06:33:18 -0800 (PST)

Final-Recipient: rfc822; tomas.silva@gmail.example
Action: failed
Status: 5.2.1
Diagnostic-Code: smtp; 550-5.2.1 The email account that you tried to reach is disabled.
 Learn more at https://support.google.example/mail/?p=DisabledUser z11si1903301pxr.311 - gsmtp
Last-Attempt-Date: Wed, 17 Nov 2021 06:33:19 -0800 (PST)

--00000000000077d4cf05d0fd7a11--
''')

w('gmx-german-postfach-deaktiviert.eml','''
Return-Path: <>
Date: Tue, 4 Feb 2020 10:17:42 +0100
From: Mail Delivery System <MAILER-DAEMON@mout.gmx-example.net>
To: bounces@bounces.this-week-in-rust.org
Subject: Unzustellbar: This Week in Rust 324
Message-ID: <1N9Mtg-1jcEJ13bXo-015Hxy@mout.gmx-example.net>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit
Auto-Submitted: auto-replied

Dies ist eine automatisch erstellte Nachricht des Mailsystems.

Ihre Nachricht konnte an folgenden Empfänger nicht zugestellt werden:

  <juergen.mueller@gmx-example.de>

Das Postfach des Empfängers ist deaktiviert.
Grund: 550 5.2.1 Mailbox disabled, not accepting messages / Postfach deaktiviert

This is an automatically generated message. Your message could not be
delivered to the recipient above: the mailbox is disabled.

--- Kopfzeilen der ursprünglichen Nachricht ---
From: newsletter@this-week-in-rust.org
To: juergen.mueller@gmx-example.de
Subject: This Week in Rust 324
Date: Tue, 4 Feb 2020 10:17:39 +0100
''')

w('yandex-russian-user-filter.eml','''
Return-Path: <>
From: mailer-daemon@yandex-example.ru
To: bounces@bounces.this-week-in-rust.org
Subject: =?utf-8?B?0J3QtdC00L7RgdGC0LDQstC70LXQvdC90L7QtSDRgdC+0L7QsdGJ0LXQvdC40LU=?=
Date: Thu, 22 Aug 2019 13:45:10 +0300
Message-Id: <7631566470710@mxfront7.yandex-example.ru>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit
Auto-Submitted: auto-replied

Это письмо создано автоматически сервером Яндекс.Почты.
Ваше письмо не было доставлено получателю.

<sergey.ivanov@yandex-example.ru>: Письмо отклонено фильтром получателя.
Remote host said: 550 5.7.1 Message rejected by recipient's filter rule

This is the mail system at host mxfront7.yandex-example.ru.
Your message was rejected by a filter rule the recipient set up.
''')

w('kerio-550-recipient-rule-rejected.eml','''
Return-Path: <>
From: Kerio Connect <postmaster@kanzlei-example.at>
To: bounces@bounces.this-week-in-rust.org
Subject: Undeliverable: This Week in Rust 410
Date: Mon, 28 Sep 2020 07:51:03 +0200
Message-ID: <20200928055103.3A2F1@kanzlei-example.at>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="------------Kerio-BND-2209c1"

--------------Kerio-BND-2209c1
Content-Type: text/plain; charset=utf-8

Your message did not reach some or all of the intended recipients.

   Subject: This Week in Rust 410
   Sent:    28.09.2020 07:51

The following recipient(s) could not be reached:

sekretariat@kanzlei-example.at
   Error Type: SMTP
   Remote server (127.0.0.1) issued an error.
   hMailServer sent: DATA
   Remote server replied: 550 5.7.1 Message rejected by recipient's filter rule

--------------Kerio-BND-2209c1
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.kanzlei-example.at

Final-Recipient: rfc822; sekretariat@kanzlei-example.at
Action: failed
Status: 5.7.1
Diagnostic-Code: smtp; 550 5.7.1 Message rejected by recipient's filter rule

--------------Kerio-BND-2209c1--
''', crlf=True)

w('gmail-5.2.3-size-limit.eml','''
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>
To: bounces@bounces.this-week-in-rust.org
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Date: Sat, 12 Jun 2021 19:02:55 -0700 (PDT)
Message-ID: <60c5669f.1c69fb81.33aa1.0c2eSMTPIN_ADDED_MISSING@mx.google.example>
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000a91b0205c49bc5e2"; report-type=delivery-status

--000000000000a91b0205c49bc5e2
Content-Type: text/plain; charset="UTF-8"

** Message not delivered **

Your message couldn't be delivered to lucas.ferreira@gmail.example because it exceeds the size limit.

The response was:

Your message exceeded Google's message size limits.

--000000000000a91b0205c49bc5e2
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.example
Arrival-Date: Sat, 12 Jun 2021 19:02:54 -0700 (PDT)

Final-Recipient: rfc822; lucas.ferreira@gmail.example
Action: failed
Status: 5.2.3
Diagnostic-Code: smtp; 552-5.2.3 Your message exceeded Google's message size limits. Please visit
 https://support.google.example/mail/?p=MaxSizeError to view our size guidelines.
 q7si1180320pgg.26 - gsmtp

--000000000000a91b0205c49bc5e2--
''')

w('proofpoint-554-spam-content-filtering.eml','''
Return-Path: <>
From: MAILER-DAEMON@relay.this-week-in-rust.org (Mail Delivery System)
To: bounces@bounces.this-week-in-rust.org
Subject: Undelivered Mail Returned to Sender
Date: Tue, 7 Nov 2017 15:30:12 +0000 (UTC)
Message-Id: <20171107153012.D11A25E044@relay.this-week-in-rust.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="D11A25E044.1510068612/relay.this-week-in-rust.org"

--D11A25E044.1510068612/relay.this-week-in-rust.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host relay.this-week-in-rust.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<a.kowalczyk@university-example.pl>: host
    mx0a-001b2d01.pphosted.example[198.51.100.61] said: 554 5.7.1
    <a.kowalczyk@university-example.pl>: Message rejected as spam by Content
    Filtering. (in reply to end of DATA command)

--D11A25E044.1510068612/relay.this-week-in-rust.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.this-week-in-rust.org
Arrival-Date: Tue, 7 Nov 2017 15:30:09 +0000 (UTC)

Final-Recipient: rfc822; a.kowalczyk@university-example.pl
Action: failed
Status: 5.7.1
Remote-MTA: dns; mx0a-001b2d01.pphosted.example
Diagnostic-Code: smtp; 554 5.7.1 <a.kowalczyk@university-example.pl>: Message
    rejected as spam by Content Filtering.

--D11A25E044.1510068612/relay.this-week-in-rust.org--
''')

w('mailru-russian-spam-message-rejected.eml','''
Return-path: <>
Envelope-to: bounces@bounces.this-week-in-rust.org
X-Failed-Recipients: olga.smirnova@mail-example.ru
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx2.this-week-in-rust.org>
To: bounces@bounces.this-week-in-rust.org
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1m3Qzf-0007Uj-9v@mx2.this-week-in-rust.org>
Date: Wed, 14 Jul 2021 09:11:47 +0000

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  olga.smirnova@mail-example.ru
    host mxs.mail-example.ru [198.51.100.77]
    SMTP error from remote mail server after end of data:
    550 spam message rejected. Please visit
    http://help.mail-example.ru/notspam-support/id?c=x0wSw1c or
    report details to abuse@corp.mail-example.ru. Error code:
    9F1C2D7A0B3E4F55. ID: 0000000000000000001C1E2D

------ This is a copy of the message, including all the headers. ------

From: newsletter@this-week-in-rust.org
To: olga.smirnova@mail-example.ru
Subject: This Week in Rust 399
''')

w('exim-sophos-virus-found.eml','''
Return-path: <>
Envelope-to: bounces@bounces.this-week-in-rust.org
X-Failed-Recipients: finance@trading-example.co.za
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx1.this-week-in-rust.org>
To: bounces@bounces.this-week-in-rust.org
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1JqM2a-0001xy-Lp@mx1.this-week-in-rust.org>
Date: Fri, 25 Apr 2008 12:03:44 +0100

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  finance@trading-example.co.za
    SMTP error from remote mail server after end of data:
    host mail.trading-example.co.za [203.0.113.90]:
    550 This message contains a virus (Troj/Agent-HGT) and has been rejected

------ This is a copy of the message, including all the headers. ------

From: newsletter@this-week-in-rust.org
To: finance@trading-example.co.za
Subject: This Week in Rust (April)
''')

w('exchange2016-5.7.1-malware-detected.eml','''
Return-Path: <>
From: Microsoft Outlook <postmaster@bank-example.es>
To: bounces@bounces.this-week-in-rust.org
Date: Thu, 16 May 2019 10:40:21 +0200
Content-Type: multipart/report; report-type=delivery-status;
	boundary="b1a0c54e-33bd-4a7e-9c5a-1f3a5e8b7c11"
X-MS-Exchange-Message-Is-Ndr:
Content-Language: es-ES
Message-ID: <8f1e2d3c-aa11-4b22-9c33-d4e5f6a7b8c9@EXCH16-01.bank-example.es>
Subject: No se puede entregar: This Week in Rust 286
MIME-Version: 1.0

--b1a0c54e-33bd-4a7e-9c5a-1f3a5e8b7c11
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

No se pudo entregar a estos destinatarios o grupos:

Marta Ruiz (m.ruiz@bank-example.es)
El mensaje contenía malware y se ha bloqueado.

Información de diagnóstico para administradores:

Generando servidor: EXCH16-01.bank-example.es

m.ruiz@bank-example.es
Remote Server returned '550 5.7.1 Message rejected - virus found: Win32.Emotet.Gen'

--b1a0c54e-33bd-4a7e-9c5a-1f3a5e8b7c11
Content-Type: message/delivery-status

Reporting-MTA: dns;EXCH16-01.bank-example.es
Received-From-MTA: dns;relay.this-week-in-rust.org
Arrival-Date: Thu, 16 May 2019 08:40:19 +0000

Final-Recipient: rfc822;m.ruiz@bank-example.es
Action: failed
Status: 5.7.1
Diagnostic-Code: smtp;550 5.7.1 Message rejected - virus found: Win32.Emotet.Gen

--b1a0c54e-33bd-4a7e-9c5a-1f3a5e8b7c11--
''', crlf=True)

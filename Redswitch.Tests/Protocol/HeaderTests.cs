using System.Text;
using Redswitch.Protocol;
using Redswitch.Protocol.Headers;
using Redswitch.Protocol.Messages;

namespace Redswitch.Tests.Protocol;

/// <summary>
/// Header access as a user of the codec sees it: look-ups, duplicates, arrays, and FreeSWITCH's
/// URL encoding and decoding (esl-protocol.md §1.1, §1.5). Headers come from real decoding
/// (the DotNetty frame decoder), not from internals.
/// </summary>
public class HeaderTests
{
    // ---------------------------------------------------------------- look-ups

    [TestCase("Reply-Text")]
    [TestCase("reply-text")]
    [TestCase("REPLY-TEXT")]
    [TestCase("rEpLy-TeXt")]
    public void LookUpIsCaseInsensitive(string name)
    {
        var headers = Outer("Content-Type: command/reply\nReply-Text: +OK accepted\n");

        Assert.Multiple(() =>
        {
            Assert.That(headers[name], Is.EqualTo("+OK accepted"));
            Assert.That(headers.Contains(name), Is.True);
            Assert.That(headers.TryGetValue(name, out var value), Is.True);
            Assert.That(value, Is.EqualTo("+OK accepted"));
            Assert.That(headers.IndexOf(name), Is.EqualTo(1));
            Assert.That(headers.GetRaw(name), Is.EqualTo("+OK accepted"));
            Assert.That(headers.GetAll(name), Is.EqualTo(new[] { "+OK accepted" }));
        });
    }

    [TestCase("Reply-Tex")]
    [TestCase("Reply-Text2")]
    [TestCase("Reply Text")]
    [TestCase("")]
    public void AMissingOrMerelySimilarNameIsNotFound(string name)
    {
        var headers = Outer("Content-Type: command/reply\nReply-Text: +OK\n");

        Assert.Multiple(() =>
        {
            Assert.That(headers[name], Is.Null);
            Assert.That(headers.Contains(name), Is.False);
            Assert.That(headers.TryGetValue(name, out var value), Is.False);
            Assert.That(value, Is.Empty);
            Assert.That(headers.IndexOf(name), Is.EqualTo(-1));
            Assert.That(headers.GetRaw(name), Is.Null);
            Assert.That(headers.GetAll(name), Is.Empty);
            Assert.That(headers.GetValues(name), Is.Empty);
        });
    }

    [Test]
    public void HeadersKeepWireOrderAndNames()
    {
        var headers = Outer("Content-Type: command/reply\nReply-Text: +OK\nJob-UUID: j1\nX-Empty: \n");

        Assert.That(headers.Select(h => h.Name), Is.EqualTo(new[] { "Content-Type", "Reply-Text", "Job-UUID", "X-Empty" }));
        Assert.That(headers.Select(h => h.Value), Is.EqualTo(new[] { "command/reply", "+OK", "j1", string.Empty }));
        Assert.That(headers.Count, Is.EqualTo(4));
        Assert.That(headers[2], Is.EqualTo(new EslHeader("Job-UUID", "j1")));
        Assert.That(headers.GetName(2), Is.EqualTo("Job-UUID"));
        Assert.That(headers.GetValue(2), Is.EqualTo("j1"));
    }

    [TestCase(-1)]
    [TestCase(4)]
    [TestCase(int.MaxValue)]
    public void AnIndexOutsideTheListThrows(int index)
    {
        var headers = Outer("Content-Type: command/reply\nReply-Text: +OK\nJob-UUID: j1\nX: y\n");

        Assert.Throws<ArgumentOutOfRangeException>(() => headers.GetName(index));
        Assert.Throws<ArgumentOutOfRangeException>(() => headers.GetValue(index));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = headers[index]);
    }

    [Test]
    public void GetRawValueChecksItsIndexLikeGetValue()
    {
        var e = (EslEvent)Decode(Frame("text/event-plain", "Event-Name: API\nContent-Length: 3\n\nabc"));
        Assume.That(e.EventHeaders.Count, Is.EqualTo(1));

        Assert.Throws<ArgumentOutOfRangeException>(() => e.EventHeaders.GetRawValue(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => e.EventHeaders.GetRawValue(-1));
    }

    [Test]
    public void TheValueIsSplitAtTheFirstColonOnly()
    {
        var headers = Outer("Content-Type: command/reply\nReply-Text: +OK Job-UUID: 7f4d:ab::c\n");

        Assert.That(headers["Reply-Text"], Is.EqualTo("+OK Job-UUID: 7f4d:ab::c"));
    }

    [TestCase("X:value", "value")]
    [TestCase("X: value", "value")]
    [TestCase("X:    value", "value")]
    [TestCase("X:\tvalue", "value")]
    [TestCase("X: \t \tvalue", "value")]
    [TestCase("X: value ", "value ")]
    [TestCase("X: a b  c", "a b  c")]
    public void SpacesAndTabsAfterTheColonAreSkippedInFreeSwitchFrames(string line, string expected)
    {
        Assert.That(Outer("Content-Type: x/y\n" + line + "\n")["X"], Is.EqualTo(expected));
    }

    [TestCase("User-Data: ")]
    [TestCase("User-Data:")]
    [TestCase("User-Data:   ")]
    public void AnEmptyValueIsPresentAndEmpty(string line)
    {
        var headers = Outer("Content-Type: log/data\n" + line + "\nLog-Level: 5\n");

        Assert.Multiple(() =>
        {
            Assert.That(headers.Contains("User-Data"), Is.True);
            Assert.That(headers["User-Data"], Is.EqualTo(string.Empty));
            Assert.That(headers.GetRaw("User-Data"), Is.EqualTo(string.Empty));
            Assert.That(headers.GetValues("User-Data"), Is.EqualTo(new[] { string.Empty }));
            Assert.That(headers["Log-Level"], Is.EqualTo("5"));
        });
    }

    [Test]
    public void ANonAsciiHeaderNameIsFoundByItsExactName()
    {
        // FreeSWITCH copies header names verbatim (sendevent); JSON events already find them.
        var plain = (EslEvent)Decode(Frame("text/event-plain", "Event-Name: CUSTOM\nX-Café: 1\n\n"));
        var json = (EslEvent)Decode(Frame("text/event-json", "{\"Event-Name\":\"CUSTOM\",\"X-Café\":\"1\"}"));

        Assert.That(json["X-Café"], Is.EqualTo("1"));
        Assert.That(plain.EventHeaders[1].Name, Is.EqualTo("X-Café"));
        Assert.That(plain["X-Café"], Is.EqualTo("1"));
        Assert.That(plain.EventHeaders.Contains("X-Café"), Is.True);
        Assert.That(plain.EventHeaders.GetAll("X-Café"), Is.EqualTo(new[] { "1" }));
    }

    [Test]
    public void AHugeNonAsciiLookUpNameIsSimplyNotFound()
    {
        var headers = Outer("Content-Type: x/y\nX-Café: 1\n");
        var huge = new string('é', 4_000_000);

        Assert.That(headers[huge], Is.Null);
        Assert.That(headers.Contains(huge + ":"), Is.False);
        Assert.That(headers["X-Café"], Is.EqualTo("1"));
    }

    [Test]
    public void ANameContainingAColonMatchesNoHeader()
    {
        // The header here is "a" with the value "b: v"; nothing is called "a:b".
        var headers = Outer("Content-Type: x/y\na:b: v\n");

        Assert.That(headers.GetName(1), Is.EqualTo("a"));
        Assert.That(headers["a"], Is.EqualTo("b: v"));
        Assert.That(headers["a:b"], Is.Null);
        Assert.That(headers.Contains("a:b"), Is.False);
    }

    [Test]
    public void AnEmptyValueInsideAnEventIsPresentAndEmpty()
    {
        var e = (EslEvent)Decode(Frame("text/event-plain", "Event-Name: CUSTOM\nX-Empty: \nX-After: 1\n\n"));

        Assert.That(e.EventHeaders.Contains("X-Empty"), Is.True);
        Assert.That(e["X-Empty"], Is.EqualTo(string.Empty));
        Assert.That(e["X-After"], Is.EqualTo("1"));
    }

    // ---------------------------------------------------------------- duplicates and arrays

    [Test]
    public void DuplicatesAreKeptAndTheFirstWins()
    {
        var headers = Outer("Content-Type: x/y\nHangup-Cause: NORMAL_CLEARING\nOther: 1\nhangup-cause: USER_BUSY\nHANGUP-CAUSE: third\n");

        Assert.Multiple(() =>
        {
            Assert.That(headers.Count, Is.EqualTo(5));
            Assert.That(headers["Hangup-Cause"], Is.EqualTo("NORMAL_CLEARING"));
            Assert.That(headers.GetAll("Hangup-Cause"), Is.EqualTo(new[] { "NORMAL_CLEARING", "USER_BUSY", "third" }));
            Assert.That(headers.GetAll("HANGUP-cause"), Is.EqualTo(new[] { "NORMAL_CLEARING", "USER_BUSY", "third" }));
            Assert.That(headers.IndexOf("hangup-cause"), Is.EqualTo(1));
        });
    }

    [Test]
    public void DuplicatesInsideAPlainEventAreKeptAndTheFirstWins()
    {
        var e = (EslEvent)Decode(Frame(
            "text/event-plain",
            "Event-Name: CHANNEL_HANGUP_COMPLETE\nHangup-Cause: NORMAL_CLEARING\nAnswer-State: hangup\nHangup-Cause: USER_BUSY\n\n"));

        Assert.That(e["Hangup-Cause"], Is.EqualTo("NORMAL_CLEARING"));
        Assert.That(e.EventHeaders.GetAll("Hangup-Cause"), Is.EqualTo(new[] { "NORMAL_CLEARING", "USER_BUSY" }));
    }

    [Test]
    public void DuplicatesInsideAJsonEventAreKeptAndTheFirstWins()
    {
        var e = (EslEvent)Decode(Frame(
            "text/event-json",
            "{\"Event-Name\":\"CHANNEL_HANGUP_COMPLETE\",\"Hangup-Cause\":\"NORMAL_CLEARING\",\"Answer-State\":\"hangup\",\"Hangup-Cause\":\"USER_BUSY\"}"));

        Assert.That(e.EventName, Is.EqualTo("CHANNEL_HANGUP_COMPLETE"));
        Assert.That(e["hangup-cause"], Is.EqualTo("NORMAL_CLEARING"));
        Assert.That(e.EventHeaders.GetAll("Hangup-Cause"), Is.EqualTo(new[] { "NORMAL_CLEARING", "USER_BUSY" }));
    }

    [TestCase("ARRAY::a|:b", new[] { "a", "b" })]
    [TestCase("ARRAY::a|:b|:c", new[] { "a", "b", "c" })]
    [TestCase("ARRAY::only", new[] { "only" })]
    [TestCase("ARRAY::a|b|:c:d", new[] { "a|b", "c:d" })]
    [TestCase("plain", new[] { "plain" })]
    [TestCase("a|:b", new[] { "a|:b" })]
    [TestCase("array::a|:b", new[] { "array::a|:b" })]
    public void ArrayValuesSplitOnPipeColon(string value, string[] expected)
    {
        var headers = Outer("Content-Type: x/y\nX-Arr: " + value + "\n");

        Assert.That(headers.GetValues("x-arr"), Is.EqualTo(expected));
        Assert.That(headers["X-Arr"], Is.EqualTo(value), "the plain look-up keeps the raw ARRAY:: text");
    }

    [Test]
    public void AnEncodedArrayInAPlainEventIsDecodedThenSplit()
    {
        var e = (EslEvent)Decode(Frame("text/event-plain", "Event-Name: CUSTOM\nvariable_x: ARRAY%3A%3Aa%20b%7C%3Ac%C3%A9\n\n"));

        Assert.That(e.EventHeaders.GetValues("variable_x"), Is.EqualTo(new[] { "a b", "cé" }));
    }

    [Test]
    public void AJsonArrayIsReadAsAnArrayValue()
    {
        var e = (EslEvent)Decode(Frame("text/event-json", "{\"Event-Name\":\"CUSTOM\",\"variable_x\":[\"a\",\"b\"]}"));

        Assert.That(e.EventHeaders.GetValues("variable_x"), Is.EqualTo(new[] { "a", "b" }));
    }

    [Test]
    public void HeadersBuiltFromValuesBehaveLikeParsedOnes()
    {
        var headers = EslHeaders.FromValues(new[]
        {
            KeyValuePair.Create("Event-Name", "X"),
            KeyValuePair.Create("Dup", "1"),
            KeyValuePair.Create("dup", "2"),
            KeyValuePair.Create("Arr", "ARRAY::p|:q"),
        });

        Assert.Multiple(() =>
        {
            Assert.That(headers["DUP"], Is.EqualTo("1"));
            Assert.That(headers.GetAll("Dup"), Is.EqualTo(new[] { "1", "2" }));
            Assert.That(headers.GetValues("arr"), Is.EqualTo(new[] { "p", "q" }));
            Assert.That(headers.GetRaw("event-name"), Is.EqualTo("X"));
            Assert.That(headers.Count, Is.EqualTo(4));
        });
    }

    // ---------------------------------------------------------------- URL decoding (FS -> app)

    [TestCase("a+b", "a+b")]
    [TestCase("%2BOK%0A", "+OK\n")]
    [TestCase("%2bOK", "+OK")]
    [TestCase("Jos%C3%A9%20M%C3%BCller", "José Müller")]
    [TestCase("Jos%c3%a9", "José")]
    [TestCase("%E2%82%AC", "€")]
    [TestCase("%ZZ", "%ZZ")]
    [TestCase("a%ZZb", "a%ZZb")]
    [TestCase("%Z1", "%Z1")]
    [TestCase("%1Z", "%1Z")]
    [TestCase("%4", "%4")]
    [TestCase("x%4", "x%4")]
    [TestCase("%", "%")]
    [TestCase("100%", "100%")]
    [TestCase("%%41", "%A")]
    [TestCase("%2541", "%41")]
    [TestCase("%%", "%%")]
    [TestCase("%41%42%43", "ABC")]
    [TestCase("%3A%3A1", "::1")]
    [TestCase("%0D%0A", "\r\n")]
    [TestCase("%09", "\t")]
    [TestCase("%00x", "\0x")]
    [TestCase("%FF", "\uFFFD")]
    [TestCase("%C3", "\uFFFD")]
    [TestCase("a%C3b", "a\uFFFDb")]
    [TestCase("%C3%28", "\uFFFD(")]
    [TestCase("%ED%A0%BD%ED%B8%80", "\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD")]
    [TestCase("%F0%9F%98%80", "😀")]
    [TestCase("", "")]
    public void OuterValuesAreUrlDecodedAtTheByteLevel(string wire, string expected)
    {
        var headers = Outer("Content-Type: x/y\nX: " + wire + "\n");

        Assert.That(headers["X"], Is.EqualTo(expected));
        Assert.That(headers.GetRaw("X"), Is.EqualTo(wire), "the raw value stays available");
    }

    [TestCase("a+b", "a+b")]
    [TestCase("Jos%C3%A9%20M%C3%BCller", "José Müller")]
    [TestCase("%ZZ", "%ZZ")]
    [TestCase("%4", "%4")]
    [TestCase("%", "%")]
    [TestCase("%FF", "\uFFFD")]
    public void InnerEventValuesAreUrlDecodedTheSameWay(string wire, string expected)
    {
        var e = (EslEvent)Decode(Frame("text/event-plain", "Event-Name: CUSTOM\nX: " + wire + "\n\n"));

        Assert.That(e["X"], Is.EqualTo(expected));
        Assert.That(e.EventHeaders.GetRaw("X"), Is.EqualTo(wire));
    }

    [Test]
    public void RawUtf8BytesInAValueAreReadAsUtf8()
    {
        // Channel-Name in a linger notice and getvar's Reply-Text are copied verbatim by FreeSWITCH.
        var headers = Outer(Bytes("Content-Type: command/reply\nReply-Text: Jos\u00e9 M\u00fcller \u20ac\n"));

        Assert.That(headers["Reply-Text"], Is.EqualTo("José Müller €"));
    }

    [TestCase(new byte[] { 0xFF }, "\uFFFD")]
    [TestCase(new byte[] { (byte)'a', 0xC3 }, "a\uFFFD")]
    [TestCase(new byte[] { 0xC0, 0xAF }, "\uFFFD\uFFFD")]
    [TestCase(new byte[] { 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80 }, "\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD")]
    public void RawInvalidUtf8InAValueBecomesReplacementCharacters(byte[] value, string expected)
    {
        var block = Cat(Bytes("Content-Type: x/y\nX: "), value, Bytes("\nY: after\n"));
        var headers = Outer(block);

        Assert.That(headers["X"], Is.EqualTo(expected));
        Assert.That(headers["Y"], Is.EqualTo("after"));
    }

    [Test]
    public void AGetvarValueWithALiteralPercentEscapeKeepsItsRawText()
    {
        // esl-protocol.md §1.1 rule 5: getvar of "a%41b c" comes back verbatim.
        var reply = (CommandReply)Decode(Bytes("Content-Type: command/reply\nReply-Text: a%41b c\n\n"));

        Assert.That(reply.ReplyText, Is.EqualTo("aAb c"));
        Assert.That(reply.RawReplyText, Is.EqualTo("a%41b c"));
    }

    [TestCase(1000)]
    [TestCase(1025)]
    [TestCase(5000)]
    public void LongEncodedValuesDecodeLikeShortOnes(int repeat)
    {
        var wire = string.Concat(Enumerable.Repeat("%C3%A9+%ZZ", repeat)) + "%";
        var expected = string.Concat(Enumerable.Repeat("é+%ZZ", repeat)) + "%";

        Assert.That(Outer("Content-Type: x/y\nX: " + wire + "\n")["X"], Is.EqualTo(expected));
        Assert.That(EslUrlEncoding.Decode(Encoding.ASCII.GetBytes(wire)), Is.EqualTo(expected));
    }

    [TestCase("a+b", "a+b")]
    [TestCase("%2B", "+")]
    [TestCase("%C3%A9", "é")]
    [TestCase("%ZZ", "%ZZ")]
    [TestCase("%4", "%4")]
    [TestCase("%", "%")]
    [TestCase("%FF%FE", "\uFFFD\uFFFD")]
    [TestCase("no escapes at all", "no escapes at all")]
    public void DecodeApiWorksOnBytes(string raw, string expected)
    {
        Assert.That(EslUrlEncoding.Decode(Encoding.ASCII.GetBytes(raw)), Is.EqualTo(expected));
    }

    [Test]
    public void DecodeBytesGivesTheExactBytes()
    {
        var raw = "a%C3%A9%ZZ%4%"u8;
        var destination = new byte[raw.Length];

        var length = EslUrlEncoding.DecodeBytes(raw, destination);

        Assert.That(destination[..length], Is.EqualTo(new byte[] { (byte)'a', 0xC3, 0xA9, (byte)'%', (byte)'Z', (byte)'Z', (byte)'%', (byte)'4', (byte)'%' }));
    }

    // ---------------------------------------------------------------- URL encoding (app -> FS simulator side)

    [TestCase("+OK\n", "%2BOK%0A")]
    [TestCase("Caller 'X' <1000>", "Caller%20'X'%20%3C1000%3E")]
    [TestCase("ARRAY::a|:b", "ARRAY%3A%3Aa%7C%3Ab")]
    [TestCase("a/b,c(d)", "a/b,c(d)")]
    [TestCase("\t", "%09")]
    [TestCase("José Müller", "Jos%C3%A9%20M%C3%BCller")]
    [TestCase("€", "%E2%82%AC")]
    [TestCase("100%AB", "100%AB")]
    [TestCase("%41", "%41")]
    [TestCase("a%41b c", "a%41b%20c")]
    [TestCase("%4a", "%254a")]
    [TestCase("%zz", "%25zz")]
    [TestCase("x%4", "x%254")]
    [TestCase("%4", "%254")]
    [TestCase("end%", "end%25")]
    [TestCase("%", "%25")]
    [TestCase("%%41", "%25%41")]
    [TestCase("%AG", "%25AG")]
    [TestCase("\r\n", "%0D%0A")]
    [TestCase("\u007f", "%7F")]
    [TestCase("\0", "%00")]
    [TestCase("", "")]
    [TestCase("::1", "%3A%3A1")]
    [TestCase("2024-05-01 12:00:00", "2024-05-01%2012%3A00%3A00")]
    [TestCase("😀", "%F0%9F%98%80")]
    public void EncodeFollowsFreeSwitchRules(string value, string expected)
    {
        Assert.That(EslUrlEncoding.Encode(value), Is.EqualTo(expected));
        var needsNone = EslUrlEncoding.NeedsNoEncoding(Encoding.UTF8.GetBytes(value));
        if (needsNone)
        {
            Assert.That(expected, Is.EqualTo(value), "NeedsNoEncoding said the value stays as it is");
        }

        if (!value.Contains('%'))
        {
            Assert.That(needsNone, Is.EqualTo(value == expected));
        }
    }

    [Test]
    public void EveryUnsafeCharacterIsEncodedAndEveryOtherPrintableIsNot()
    {
        const string unsafeSet = " #%&+:;<=>?@[\\]^`{|}\"";
        for (var c = (char)0x20; c <= (char)0x7E; c++)
        {
            var s = c.ToString();
            var expected = unsafeSet.Contains(c) ? "%" + ((int)c).ToString("X2") : s;
            Assert.That(EslUrlEncoding.Encode(s), Is.EqualTo(expected), $"char 0x{(int)c:X2} '{c}'");
        }

        for (var c = (char)0; c < (char)0x20; c++)
        {
            Assert.That(EslUrlEncoding.Encode(c.ToString()), Is.EqualTo("%" + ((int)c).ToString("X2")), $"control 0x{(int)c:X2}");
        }

        Assert.That(EslUrlEncoding.Encode("/,()'!*-._~$"), Is.EqualTo("/,()'!*-._~$"));
    }

    [Test]
    public void EncodeThenDecodeGivesTheValueBackWhenNoUpperCaseEscapeIsInIt()
    {
        var random = new Random(20261126);
        const string alphabet = "abcXYZ019 %+:;&=?@[]{}|\\\"'<>^`#\t\r\n\0éü€😀/,()!*-._~$";
        var elements = alphabet.EnumerateRunes().Select(r => r.ToString()).ToArray();
        for (var i = 0; i < 2000; i++)
        {
            var value = string.Concat(Enumerable.Range(0, random.Next(0, 24)).Select(_ => elements[random.Next(elements.Length)]));
            var encoded = EslUrlEncoding.Encode(value);

            Assert.That(encoded.All(ch => ch is > ' ' and < (char)0x7F), Is.True, $"encoded '{encoded}' must be printable ASCII");
            if (HasUpperHexEscape(value))
            {
                continue; // the %XX pass-through quirk: decoding changes it, as in FreeSWITCH
            }

            Assert.That(EslUrlEncoding.Decode(Encoding.ASCII.GetBytes(encoded)), Is.EqualTo(value), $"value '{value}' → '{encoded}'");
        }
    }

    [Test]
    public void TheUpperCasePassThroughQuirkChangesTheValueOnTheWayBack()
    {
        // esl-protocol.md §1.5: "100%AB" goes out unchanged and decodes to the byte 0xAB.
        var encoded = EslUrlEncoding.Encode("a%41b");

        Assert.That(encoded, Is.EqualTo("a%41b"));
        Assert.That(EslUrlEncoding.Decode(Encoding.ASCII.GetBytes(encoded)), Is.EqualTo("aAb"));
    }

    [Test]
    public void ABuiltPlainEventEncodesValuesAndDecodesThemBack()
    {
        var built = EslEvent.Create(
            EslEventFormat.Plain,
            new[] { KeyValuePair.Create("Event-Name", "CUSTOM"), KeyValuePair.Create("Caller-Caller-ID-Name", "José Müller"), KeyValuePair.Create("X-Plus", "a+b c") });

        var text = Encoding.UTF8.GetString(built.Wire.Span);
        Assert.That(text, Does.Contain("Caller-Caller-ID-Name: Jos%C3%A9%20M%C3%BCller\n"));
        Assert.That(text, Does.Contain("X-Plus: a%2Bb%20c\n"));

        var decoded = (EslEvent)Decode(built.Wire.ToArray());
        Assert.That(decoded["caller-caller-id-name"], Is.EqualTo("José Müller"));
        Assert.That(decoded["X-Plus"], Is.EqualTo("a+b c"));
    }

    [TestCase(EslEventFormat.Plain)]
    [TestCase(EslEventFormat.Json)]
    [TestCase(EslEventFormat.Xml)]
    public void BuiltEventsDecodeToTheHeadersAndBodyTheyWereBuiltFrom(EslEventFormat format)
    {
        var random = new Random(31 + (int)format);
        const string alphabet = "abcXYZ019 %+:;&=?@[]{}|\\\"'<>^`#\t\néü€😀/,()!*-._~$";
        var elements = alphabet.EnumerateRunes().Select(r => r.ToString()).ToArray();
        string Value(int max) => string.Concat(Enumerable.Range(0, random.Next(1, max)).Select(_ => elements[random.Next(elements.Length)]));

        for (var round = 0; round < 200; round++)
        {
            var headers = new List<KeyValuePair<string, string>> { KeyValuePair.Create("Event-Name", "CUSTOM") };
            for (var i = 0; i < random.Next(0, 12); i++)
            {
                var value = Value(20);
                if (format != EslEventFormat.Json && HasUpperHexEscape(value))
                {
                    continue; // the %XX pass-through quirk changes such values, as in FreeSWITCH
                }

                headers.Add(KeyValuePair.Create($"X-H{i}", value));
            }

            if (format != EslEventFormat.Xml && random.Next(3) == 0)
            {
                headers.Add(KeyValuePair.Create("variable_arr", "ARRAY::" + string.Join("|:", Enumerable.Range(0, random.Next(1, 4)).Select(_ => Value(6).Replace("|", "/")))));
            }

            var body = random.Next(2) == 0 ? null : format == EslEventFormat.Xml ? Value(40).Replace("\t", " ") : Value(40);
            var built = EslEvent.Create(format, headers, body);

            var decoded = (EslEvent)Decode(built.Wire.ToArray());
            var where = $"round {round}: {Encoding.UTF8.GetString(built.Body.Span)}";
            Assert.That(decoded.Format, Is.EqualTo(format), where);
            Assert.That(decoded.EventHeaders.Select(h => (h.Name, h.Value)), Is.EqualTo(headers.Select(h => (h.Key, h.Value))), where);
            Assert.That(decoded.EventBodyText, Is.EqualTo(body), where);
            if (body is not null)
            {
                Assert.That(decoded.EventBody.ToArray(), Is.EqualTo(Encoding.UTF8.GetBytes(body)), where);
            }
        }
    }

    [Test]
    public void BuiltXmlEventsEscapeTextLikeFreeSwitch()
    {
        var built = EslEvent.Create(
            EslEventFormat.Xml,
            new[] { KeyValuePair.Create("Event-Name", "CUSTOM"), KeyValuePair.Create("X", "a'b"), KeyValuePair.Create("Y", "<&>") },
            "say \"hi\" & 'bye'\r\n");
        var xml = Encoding.UTF8.GetString(built.Body.Span);

        Assert.That(xml, Does.Contain("<X>a'b</X>"));
        Assert.That(xml, Does.Contain("<Y>%3C%26%3E</Y>"), "URL-encoded first: nothing left to escape");
        Assert.That(xml, Does.Contain("<body>say \"hi\" &amp; 'bye'&#xD;\n</body>"));
    }

    [Test]
    public void AnXmlEventBodyKeepsItsCarriageReturns()
    {
        var built = EslEvent.Create(EslEventFormat.Xml, new[] { KeyValuePair.Create("Event-Name", "CUSTOM") }, "a\r\nb\r");

        var decoded = (EslEvent)Decode(built.Wire.ToArray());

        Assert.That(decoded.EventBodyText, Is.EqualTo("a\r\nb\r"));
    }

    [Test]
    public void ConcurrentReadersOfTheSameMessagesSeeTheSameValues()
    {
        // Messages are immutable but materialise lazily (and share a string pool): racing
        // readers must still see exactly what a lone reader sees.
        var bytes = Capture.Streams("call-barge", "fs")["outbound1"];
        var reference = DecodeHarness.DecodeFrames(bytes).Select(Snapshot).ToList();

        for (var round = 0; round < 5; round++)
        {
            var shared = DecodeHarness.DecodeFrames(bytes);
            var results = new List<string>[4];
            Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t =>
            {
                var order = Enumerable.Range(0, shared.Count).ToList();
                if (t % 2 == 1)
                {
                    order.Reverse();
                }

                var snapshots = new string[shared.Count];
                foreach (var i in order)
                {
                    snapshots[i] = Snapshot(shared[i]);
                }

                results[t] = snapshots.ToList();
            });

            foreach (var result in results)
            {
                Assert.That(result, Is.EqualTo(reference), $"round {round}");
            }
        }
    }

    private static string Snapshot(EslMessage message)
    {
        var text = new StringBuilder();
        foreach (var header in message.Headers)
        {
            text.Append(header.Name).Append('=').Append(header.Value).Append('\n');
        }

        if (message is EslEvent e)
        {
            text.Append(e.EventName).Append('|').Append(e.UniqueId).Append('|').Append(e.EventBodyText).Append('\n');
            foreach (var header in e.EventHeaders)
            {
                text.Append(header.Name).Append('=').Append(header.Value).Append('\n');
            }
        }

        return text.ToString();
    }

    // ---------------------------------------------------------------- helpers

    private static bool HasUpperHexEscape(string value)
    {
        for (var i = 0; i + 2 < value.Length; i++)
        {
            if (value[i] == '%' && IsUpperHex(value[i + 1]) && IsUpperHex(value[i + 2]))
            {
                return true;
            }
        }

        return false;

        static bool IsUpperHex(char c) => c is >= '0' and <= '9' or >= 'A' and <= 'F';
    }

    private static EslHeaders Outer(string block) => Outer(Bytes(block));

    /// <summary>Decodes one header-only frame made of <paramref name="block"/> and an empty line.</summary>
    private static EslHeaders Outer(byte[] block) => Decode(Cat(block, Bytes("\n"))).Headers;

    internal static EslMessage Decode(byte[] frame)
    {
        var messages = DecodeHarness.DecodeFrames(frame);
        Assert.That(messages, Has.Count.EqualTo(1), "one frame in, one message out");
        Assert.That(messages[0].WireLength, Is.EqualTo(frame.Length));
        return messages[0];
    }

    /// <summary>An outer frame with a Content-Length body of <paramref name="body"/> (UTF-8).</summary>
    internal static byte[] Frame(string contentType, string body) => Frame(contentType, Bytes(body));

    internal static byte[] Frame(string contentType, byte[] body) =>
        Cat(Bytes($"Content-Length: {body.Length}\nContent-Type: {contentType}\n\n"), body);

    internal static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    internal static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}

using System.Text;
using DotNetty.Buffers;
using DotNetty.Codecs;
using DotNetty.Transport.Channels;
using DotNetty.Transport.Channels.Embedded;
using Redswitch.Protocol;
using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Messages;

namespace Redswitch.Tests.Protocol;

/// <summary>
/// Input no FreeSWITCH would send, or that a broken or hostile peer might. Each case either
/// decodes sensibly or fails with the typed <see cref="EslCodecException"/>; none hangs,
/// crashes, or allocates without bound. Every case is fed whole, in 4 KiB reads, in random
/// reads (fixed seed) and, when small, one byte at a time: the outcome must not depend on it.
/// </summary>
public class HostileInputTests
{
    private static readonly EslDecoderOptions Small = new() { MaxFrameBytes = 4096 };

    // ================================================================ the case table

    public sealed class Case
    {
        public required byte[] Input { get; init; }

        public EslDecoderOptions? Options { get; init; }

        /// <summary>The typed failure expected, or null when the input must decode without one.</summary>
        public EslCodecError? Error { get; init; }

        /// <summary>Messages expected (before the failure, when one is expected).</summary>
        public int Messages { get; init; }

        /// <summary>Assertions on the decoded messages (EslMessage or EslCommand).</summary>
        public Action<IReadOnlyList<object>>? Check { get; init; }

        /// <summary>Bytes the decoder may allocate for the whole input, fed in one read.</summary>
        public long MaxAllocated { get; init; } = 4L * 1024 * 1024;

        public override string ToString() => $"{Input.Length} bytes";
    }

    private static TestCaseData Frame(string name, Case c) => new TestCaseData(c).SetName("Frame_" + name);

    private static Case Fails(string text, EslCodecError error, int messagesBefore = 0, EslDecoderOptions? options = null) =>
        new() { Input = B(text), Error = error, Messages = messagesBefore, Options = options };

    private static Case Decodes(string text, int messages, Action<IReadOnlyList<EslMessage>>? check = null) => Decodes(B(text), messages, check);

    private static Case Decodes(byte[] input, int messages, Action<IReadOnlyList<EslMessage>>? check = null) =>
        new() { Input = input, Messages = messages, Check = check is null ? null : list => check(list.Cast<EslMessage>().ToList()) };

    private static Case Commands(string text, int messages, Action<IReadOnlyList<EslCommand>> check) => Commands(B(text), messages, check);

    private static Case Commands(byte[] input, int messages, Action<IReadOnlyList<EslCommand>> check) =>
        new() { Input = input, Messages = messages, Check = list => check(list.Cast<EslCommand>().ToList()) };

    /// <summary>An api/response whose whole frame is <paramref name="frameBytes"/> long.</summary>
    private static byte[] ApiFrameOf(int frameBytes)
    {
        var head = B(Api + "Content-Length: 0000\n\n").Length;
        var body = frameBytes - head;
        return Cat(B(Api + $"Content-Length: {body:D4}\n\n"), Enumerable.Repeat((byte)'b', body).ToArray());
    }

    private const string Api = "Content-Type: api/response\n";
    private const string Auth = "Content-Type: auth/request\n\n";

    public static IEnumerable<TestCaseData> FrameCases()
    {
        // ---- Content-Length
        yield return Frame("ContentLengthHuge17MiB", new Case
        {
            Input = Cat(B(Api + "Content-Length: 17825792\n\n"), new byte[65536]),
            Error = EslCodecError.FrameTooLarge,
            MaxAllocated = 1024 * 1024,
        });
        yield return Frame("ContentLengthIntMax", Fails(Api + "Content-Length: 2147483647\n\nabc", EslCodecError.FrameTooLarge));
        yield return Frame("ContentLength18Digits", Fails(Api + "Content-Length: 999999999999999999\n\nabc", EslCodecError.FrameTooLarge));
        yield return Frame("ContentLengthOverflow19Digits", Fails(Api + "Content-Length: 9999999999999999999\n\nabc", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthOverflow40Digits", Fails(Api + "Content-Length: " + new string('9', 40) + "\n\nabc", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthWrapsToNegativeAsInt", Fails(Api + "Content-Length: 4294967297\n\nabc", EslCodecError.FrameTooLarge));
        yield return Frame("ContentLengthNegative", Fails(Api + "Content-Length: -1\n\nabc", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthNegativeLarge", Fails(Api + "Content-Length: -2147483648\n\n", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthNonNumeric", Fails(Api + "Content-Length: abc\n\nabc", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthHex", Fails(Api + "Content-Length: 0x10\n\nabc", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthDecimalPoint", Fails(Api + "Content-Length: 1.5\n\nabc", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthTrailingGarbage", Fails(Api + "Content-Length: 3abc\n\nabc", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthEmpty", Fails(Api + "Content-Length: \n\nabc", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthEmptyNoSpace", Fails(Api + "Content-Length:\n\nabc", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthOnlySpaces", Fails(Api + "Content-Length:     \n\nabc", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthSpaceInside", Fails(Api + "Content-Length: 1 2\n\nabc", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthFullWidthDigit", Fails(Api + "Content-Length: \uFF13\n\nabc", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthNul", Fails(Api + "Content-Length: 3\0\n\nabc", EslCodecError.BadContentLength));
        yield return Frame("ContentLengthSpacesAround", Decodes(Api + "Content-Length:    3   \n\nabc" + Auth, 2, m =>
        {
            Assert.That(m[0].BodyText, Is.EqualTo("abc"));
            Assert.That(m[1], Is.TypeOf<AuthRequest>());
        }));
        yield return Frame("ContentLengthTab", Decodes(Api + "Content-Length:\t3\n\nabc", 1, m => Assert.That(m[0].BodyText, Is.EqualTo("abc"))));
        yield return Frame("ContentLengthLeadingZeros", Decodes(Api + "Content-Length: 0003\n\nabc", 1, m => Assert.That(m[0].BodyText, Is.EqualTo("abc"))));
        yield return Frame("ContentLengthZero", Decodes(Api + "Content-Length: 0\n\n" + Auth, 2, m =>
        {
            Assert.That(m[0].Body.Length, Is.Zero);
            Assert.That(((ApiResponse)m[0]).BodyText, Is.Empty);
        }));
        yield return Frame("ContentLengthLowerCaseName", Decodes(Api + "content-LENGTH: 3\n\nabc", 1, m => Assert.That(m[0].BodyText, Is.EqualTo("abc"))));
        yield return Frame("ContentLengthDuplicateFirstWins", Decodes(Api + "Content-Length: 3\nContent-Length: 5\n\nabc" + Auth, 2, m =>
        {
            Assert.That(m[0].BodyText, Is.EqualTo("abc"));
            Assert.That(m[0].Headers.GetAll("Content-Length"), Is.EqualTo(new[] { "3", "5" }));
        }));
        yield return Frame("ContentLengthAtTheLimit", new Case
        {
            Input = ApiFrameOf(4096),
            Options = Small,
            Messages = 1,
            Check = m => Assert.That(((EslMessage)m[0]).WireLength, Is.EqualTo(4096)),
        });
        yield return Frame("ContentLengthOneOverTheLimit", new Case
        {
            Input = ApiFrameOf(4097),
            Options = Small,
            Error = EslCodecError.FrameTooLarge,
        });
        yield return Frame("ContentLengthBelowLimitIsNotPreallocated", new Case
        {
            // 15 MB announced, 64 KiB sent: the decoder waits without reserving the 15 MB.
            Input = Cat(B(Api + "Content-Length: 15000000\n\n"), new byte[65536]),
            Messages = 0,
            MaxAllocated = 1024 * 1024,
        });

        // ---- header lines
        yield return Frame("OuterLineWithoutColon", Fails("Content-Type: command/reply\nGARBAGE\n\n", EslCodecError.HeaderLineWithoutColon));
        yield return Frame("FirstLineWithoutColon", Fails("HTTP/1.1 200 OK\nContent-Type: text/html\n\n", EslCodecError.HeaderLineWithoutColon));
        yield return Frame("WhitespaceOnlyOuterLine", Fails("Content-Type: command/reply\n   \n\n", EslCodecError.HeaderLineWithoutColon));
        yield return Frame("NulOnlyOuterLine", Fails("\0\0\0\n\n", EslCodecError.HeaderLineWithoutColon));
        yield return Frame("LineWithoutColonAfterGoodFrames", Fails(Auth + Auth + "Content-Type: command/reply\nno colon\n\n" + Auth, EslCodecError.HeaderLineWithoutColon, messagesBefore: 2));
        yield return Frame("LineWithoutColonInsideEventBody", Decodes(Event("Event-Name: CUSTOM\nthis line has no colon\nX-After: 1\n\n"), 1, m =>
        {
            var e = (EslEvent)m[0];
            Assert.That(e.EventName, Is.EqualTo("CUSTOM"));
            Assert.That(e["X-After"], Is.EqualTo("1"));
            Assert.That(e.EventHeaders.Count, Is.EqualTo(2));
        }));
        yield return Frame("EmptyHeaderName", Decodes(": value\nContent-Type: command/reply\nReply-Text: +OK\n\n", 1, m =>
        {
            Assert.That(m[0], Is.TypeOf<CommandReply>());
            Assert.That(m[0].Headers[0].Name, Is.Empty);
            Assert.That(m[0].Headers[0].Value, Is.EqualTo("value"));
        }));
        yield return Frame("NoContentType", Decodes("Foo: bar\n\n", 1, m => Assert.That(m[0], Is.TypeOf<UnknownMessage>())));
        yield return Frame("UnknownContentTypeWithBody", Decodes("Content-Type: text/x-future\nContent-Length: 2\n\nhi", 1, m =>
        {
            Assert.That(m[0], Is.TypeOf<UnknownMessage>());
            Assert.That(m[0].BodyText, Is.EqualTo("hi"));
        }));
        yield return Frame("ContentTypeUpperCase", Decodes("Content-Length: 15\nContent-Type: TEXT/EVENT-PLAIN\n\nEvent-Name: X\n\n", 1, m =>
            Assert.That(((EslEvent)m[0]).EventName, Is.EqualTo("X"))));
        yield return Frame("VeryLongHeaderName", Decodes("Content-Type: command/reply\n" + new string('N', 65536) + ": v\n\n", 1, m =>
            Assert.That(m[0].Headers[new string('n', 65536)], Is.EqualTo("v"))));

        // ---- NUL bytes, invalid UTF-8, escapes
        yield return Frame("NulInHeaderValue", Decodes("Content-Type: command/reply\nReply-Text: +OK\0evil\n\n", 1, m =>
            Assert.That(((CommandReply)m[0]).ReplyText, Is.EqualTo("+OK\0evil"))));
        yield return Frame("NulInHeaderName", Decodes("Content-Type: command/reply\nX\0Y: 1\n\n", 1, m => Assert.That(m[0].Headers["X\0Y"], Is.EqualTo("1"))));
        yield return Frame("EncodedNulInHeaderValue", Decodes("Content-Type: command/reply\nReply-Text: a%00b\n\n", 1, m =>
            Assert.That(((CommandReply)m[0]).ReplyText, Is.EqualTo("a\0b"))));
        yield return Frame("NulBytesInBody", Decodes(Cat(B(Api + "Content-Length: 5\n\n"), new byte[] { 0, 1, 0, (byte)'\n', 0 }), 1, m =>
            Assert.That(m[0].Body.ToArray(), Is.EqualTo(new byte[] { 0, 1, 0, (byte)'\n', 0 }))));
        yield return Frame("NulBytesInEventBody", Decodes(Event("Event-Name: CUSTOM\nX: a\0b\nContent-Length: 3\n\n\0\0\0"), 1, m =>
        {
            var e = (EslEvent)m[0];
            Assert.That(e["X"], Is.EqualTo("a\0b"));
            Assert.That(e.EventBody.ToArray(), Is.EqualTo(new byte[3]));
        }));
        yield return Frame("InvalidUtf8InHeaderValue", Decodes(Cat(B("Content-Type: command/reply\nReply-Text: "), new byte[] { 0xFF, 0xFE, (byte)'x' }, B("\n\n")), 1, m =>
            Assert.That(((CommandReply)m[0]).ReplyText, Is.EqualTo("\uFFFD\uFFFDx"))));
        yield return Frame("InvalidUtf8InBody", Decodes(Cat(B(Api + "Content-Length: 3\n\n"), new byte[] { 0xC3, 0x28, 0xFF }), 1, m =>
        {
            Assert.That(m[0].BodyText, Is.EqualTo("\uFFFD(\uFFFD"));
            Assert.That(m[0].Body.ToArray(), Is.EqualTo(new byte[] { 0xC3, 0x28, 0xFF }));
        }));
        yield return Frame("InvalidUtf8InEventName", Decodes(Event("Event-Name: %FFX\n\n"), 1, m => Assert.That(((EslEvent)m[0]).EventName, Is.EqualTo("\uFFFDX"))));
        yield return Frame("PercentAtEndOfValue", Decodes("Content-Type: command/reply\nReply-Text: 100%\n\n", 1, m =>
            Assert.That(((CommandReply)m[0]).ReplyText, Is.EqualTo("100%"))));
        yield return Frame("PercentZZ", Decodes(Event("Event-Name: CUSTOM\nX: %ZZ%4\n\n"), 1, m => Assert.That(((EslEvent)m[0])["X"], Is.EqualTo("%ZZ%4"))));
        yield return Frame("SurrogateEncodedEmojiEscaped", Decodes(Event("Event-Name: CUSTOM\nX: a%ED%A0%BD%ED%B8%80b\n\n"), 1, m =>
            Assert.That(((EslEvent)m[0])["X"], Is.EqualTo("a" + new string('\uFFFD', 6) + "b"))));
        yield return Frame("SurrogateEncodedEmojiRawInBody", Decodes(Cat(B(Api + "Content-Length: 6\n\n"), new byte[] { 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80 }), 1, m =>
            Assert.That(m[0].BodyText, Is.EqualTo(new string('\uFFFD', 6)))));
        yield return Frame("SurrogateEncodedEmojiRawInHeader", Decodes(Cat(B("Content-Type: command/reply\nReply-Text: "), new byte[] { 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80 }, B("\n\n")), 1, m =>
            Assert.That(((CommandReply)m[0]).ReplyText, Does.Not.Contain("😀").And.Contain("\uFFFD"))));
        yield return Frame("OverlongUtf8Slash", Decodes(Event("Event-Name: CUSTOM\nX: %C0%AF\n\n"), 1, m => Assert.That(((EslEvent)m[0])["X"], Is.EqualTo("\uFFFD\uFFFD"))));
        yield return Frame("EncodedNewlinesInValue", Decodes(Event("Event-Name: CUSTOM\nX: a%0A%0AContent-Length: 99%0A%0A\nY: 2\n\n"), 1, m =>
        {
            var e = (EslEvent)m[0];
            Assert.That(e["X"], Is.EqualTo("a\n\nContent-Length: 99\n\n"));
            Assert.That(e["Y"], Is.EqualTo("2"));
        }));

        // ---- size
        yield return Frame("OneMegabyteHeaderLine", new Case
        {
            Input = B("Content-Type: command/reply\nReply-Text: " + new string('a', 1 << 20) + "\n\n"),
            Messages = 1,
            Check = m => Assert.That(((CommandReply)m[0]).ReplyText, Has.Length.EqualTo(1 << 20)),
            MaxAllocated = 16L * 1024 * 1024,
        });
        yield return Frame("OneMegabyteHeaderLineOverTheLimit", new Case
        {
            Input = B("Content-Type: command/reply\nReply-Text: " + new string('a', 1 << 20) + "\n\n"),
            Options = Small,
            Error = EslCodecError.HeaderBlockTooLarge,
            MaxAllocated = 1024 * 1024,
        });
        yield return Frame("OneMegabyteEncodedHeaderValue", new Case
        {
            Input = B("Content-Type: command/reply\nReply-Text: " + string.Concat(Enumerable.Repeat("%C3%A9", 1 << 18)) + "\n\n"),
            Messages = 1,
            Check = m => Assert.That(((CommandReply)m[0]).ReplyText, Is.EqualTo(new string('é', 1 << 18))),
            MaxAllocated = 24L * 1024 * 1024,
        });
        yield return Frame("HundredThousandOuterHeaders", new Case
        {
            Input = B("Content-Type: command/reply\n" + string.Concat(Enumerable.Range(0, 100_000).Select(i => $"H{i}: {i}\n")) + "\n"),
            Messages = 1,
            Check = m =>
            {
                var headers = ((EslMessage)m[0]).Headers;
                Assert.That(headers.Count, Is.EqualTo(100_001));
                Assert.That(headers["h99999"], Is.EqualTo("99999"));
                Assert.That(headers.IndexOf("H50000"), Is.EqualTo(50_001));
            },
            MaxAllocated = 24L * 1024 * 1024,
        });
        yield return Frame("HundredThousandEventHeaders", new Case
        {
            Input = Event("Event-Name: CUSTOM\n" + string.Concat(Enumerable.Range(0, 100_000).Select(i => $"H{i}: v%20{i}\n")) + "\n"),
            Messages = 1,
            Check = m =>
            {
                var e = (EslEvent)m[0];
                Assert.That(e.EventHeaders.Count, Is.EqualTo(100_001));
                Assert.That(e["H99999"], Is.EqualTo("v 99999"));
            },
            MaxAllocated = 24L * 1024 * 1024,
        });
        yield return Frame("HundredThousandHeadersOverTheLimit", new Case
        {
            Input = B("Content-Type: command/reply\n" + string.Concat(Enumerable.Range(0, 100_000).Select(i => $"H{i}: {i}\n")) + "\n"),
            Options = Small,
            Error = EslCodecError.HeaderBlockTooLarge,
            MaxAllocated = 1024 * 1024,
        });
        yield return Frame("HeaderBlockNeverEndsWithLimit", new Case
        {
            Input = B(string.Concat(Enumerable.Repeat("X-Endless: yes\n", 70_000))),
            Options = Small,
            Error = EslCodecError.HeaderBlockTooLarge,
            MaxAllocated = 1024 * 1024,
        });
        yield return Frame("HeaderBlockNeverEndsBelowLimit", new Case
        {
            Input = B(string.Concat(Enumerable.Repeat("X-Endless: yes\n", 10_000))),
            Messages = 0,
            MaxAllocated = 2L * 1024 * 1024,
        });
        yield return Frame("HeaderBlockEndsExactlyAtTheLimit", new Case
        {
            Input = B("Content-Type: command/reply\nReply-Text: " + new string('a', 4096 - 42) + "\n\n"),
            Options = Small,
            Messages = 1,
            Check = m => Assert.That(((EslMessage)m[0]).WireLength, Is.EqualTo(4096)),
        });

        // ---- bodies
        yield return Frame("NestedContentLengthInsideEventBody", Decodes(Cat(Event("Event-Name: CUSTOM\nContent-Length: 999999\n\nshort"), B(Auth)), 2, m =>
        {
            var e = (EslEvent)m[0];
            Assert.That(e.EventName, Is.EqualTo("CUSTOM"));
            Assert.That(e.EventBodyText, Is.EqualTo("short"));
            Assert.That(m[1], Is.TypeOf<AuthRequest>());
        }));
        yield return Frame("NestedBadContentLengthInsideEventBody", Decodes(Cat(Event("Event-Name: CUSTOM\nContent-Length: -5\n\nbody"), B(Auth)), 2, m =>
            Assert.That(((EslEvent)m[0]).EventBodyText, Is.EqualTo("body"))));
        yield return Frame("NestedFrameInsideApiBody", Decodes(Api + "Content-Length: 44\n\n" + Auth + "Content-Type: x\n", 1, m =>
            Assert.That(m[0].BodyText, Is.EqualTo(Auth + "Content-Type: x\n"))));
        yield return Frame("BodyFullOfBlankLines", Decodes(Api + "Content-Length: 10000\n\n" + new string('\n', 10_000) + Auth, 2, m =>
        {
            Assert.That(m[0].Body.ToArray(), Has.All.EqualTo((byte)'\n'));
            Assert.That(m[0].Body.Length, Is.EqualTo(10_000));
            Assert.That(m[1], Is.TypeOf<AuthRequest>());
        }));
        yield return Frame("EventBodyFullOfBlankLines", Decodes(Event(new string('\n', 5000)), 1, m =>
        {
            var e = (EslEvent)m[0];
            Assert.That(e.EventName, Is.Null);
            Assert.That(e.EventHeaders.Count, Is.Zero);
        }));
        yield return Frame("EventInnerBodyOfBlankLines", Decodes(Event("Event-Name: BACKGROUND_JOB\nContent-Length: 4\n\n\n\n\n\n"), 1, m =>
            Assert.That(((EslEvent)m[0]).EventBodyText, Is.EqualTo("\n\n\n\n"))));
        yield return Frame("EmptyEventBody", Decodes("Content-Length: 0\nContent-Type: text/event-plain\n\n", 1, m =>
        {
            var e = (EslEvent)m[0];
            Assert.That(e.EventName, Is.Null);
            Assert.That(e.EventBodyText, Is.Null);
        }));
        yield return Frame("StrayBlankLinesBetweenFrames", Decodes(new string('\n', 100_000) + Auth + "\n\n\n" + Auth, 2));

        // ---- JSON and XML bodies are content: never a failure
        yield return Frame("JsonNotJson", Decodes(Json("{not json at all"), 1, m => Assert.That(((EslEvent)m[0]).EventHeaders.Count, Is.Zero)));
        yield return Frame("JsonTruncated", Decodes(Json("{\"Event-Name\":\"CUSTOM\",\"X\":\"unterminat"), 1, m =>
            Assert.That(((EslEvent)m[0]).EventName, Is.EqualTo("CUSTOM"))));
        yield return Frame("JsonDeepNesting", Decodes(Json("{\"Event-Name\":\"CUSTOM\",\"X\":" + new string('[', 10_000) + new string(']', 10_000) + "}"), 1, m =>
            Assert.That(((EslEvent)m[0]).EventName, Is.EqualTo("CUSTOM"))));
        yield return Frame("JsonNonStringValues", Decodes(Json("{\"Event-Name\":\"CUSTOM\",\"n\":12,\"o\":{\"a\":[1]},\"t\":true,\"z\":null,\"s\":\"\\u00e9\\n\"}"), 1, m =>
        {
            var e = (EslEvent)m[0];
            Assert.That(e.EventName, Is.EqualTo("CUSTOM"));
            Assert.That(e["s"], Is.EqualTo("é\n"));
        }));
        yield return Frame("JsonInvalidUtf8", Decodes(Wrap("text/event-json", Cat(B("{\"Event-Name\":\"CUSTOM\",\"X\":\""), new byte[] { 0xFF }, B("\"}"))), 1, m =>
            Assert.That(((EslEvent)m[0]).EventName, Is.EqualTo("CUSTOM"))));
        yield return Frame("JsonTopLevelArray", Decodes(Json("[1,2,3]"), 1, m => Assert.That(((EslEvent)m[0]).EventName, Is.Null)));
        yield return Frame("XmlMalformed", Decodes(Xml("<event><headers><Event-Name>X</Event-Name>"), 1, m => Assert.That(((EslEvent)m[0]).Format, Is.EqualTo(EslEventFormat.Xml))));
        yield return Frame("XmlEntityExpansion", Decodes(
            Xml("<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]><event><headers><Event-Name>&d;&d;&d;&d;&d;&d;&d;</Event-Name></headers></event>"),
            1,
            m => Assert.That(((EslEvent)m[0]).EventName, Is.Null.Or.Not.Contain("aaaaaaaaaaaaaaaaaaaa"))));
        yield return Frame("XmlWellFormed", Decodes(Xml("<event>\n  <headers>\n    <Event-Name>CUSTOM</Event-Name>\n    <X>a%20b</X>\n  </headers>\n  <Content-Length>2</Content-Length>\n  <body>hi</body>\n</event>\n"), 1, m =>
        {
            var e = (EslEvent)m[0];
            Assert.That(e.EventName, Is.EqualTo("CUSTOM"));
            Assert.That(e["X"], Is.EqualTo("a b"));
            Assert.That(e.EventBodyText, Is.EqualTo("hi"));
        }));

        // ---- typed messages with odd values
        yield return Frame("LingerTimeNotANumber", Decodes("Content-Type: text/disconnect-notice\nContent-Disposition: linger\nLinger-Time: soon\nContent-Length: 0\n\n", 1, m =>
        {
            var n = (DisconnectNotice)m[0];
            Assert.That(n.IsLinger, Is.True);
            Assert.That(n.LingerTime, Is.Null);
        }));
        yield return Frame("LogLevelNotANumber", Decodes("Content-Type: log/data\nContent-Length: 2\nLog-Level: loud\nUser-Data: \n\nx\n", 1, m =>
        {
            var log = (LogData)m[0];
            Assert.That(log.Level, Is.Null);
            Assert.That(log.BodyText, Is.EqualTo("x\n"));
        }));
        yield return Frame("RudeRejection", Decodes("Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n", 1, m =>
            Assert.That(m[0], Is.TypeOf<RudeRejection>())));

        // ---- many frames, splits, truncation
        yield return Frame("TenThousandFramesInOneRead", new Case
        {
            Input = B(string.Concat(Enumerable.Repeat(Auth + "Content-Type: command/reply\nReply-Text: +OK\n\n" + Api + "Content-Length: 4\n\ntrue", 3334))),
            Messages = 10_002,
            Check = m =>
            {
                Assert.That(m.OfType<AuthRequest>().Count(), Is.EqualTo(3334));
                Assert.That(m.OfType<CommandReply>().Select(r => r.ReplyText), Has.All.EqualTo("+OK"));
                Assert.That(m.OfType<ApiResponse>().Select(a => a.BodyText), Has.All.EqualTo("true"));
            },
            MaxAllocated = 16L * 1024 * 1024,
        });
        yield return Frame("TruncatedInHeaderBlock", Decodes("Content-Type: command/reply\nReply-Te", 0));
        yield return Frame("TruncatedInsideLfLf", Decodes("Content-Type: command/reply\nReply-Text: +OK\n", 0));
        yield return Frame("TruncatedInBody", Decodes(Api + "Content-Length: 10\n\nabcde", 0));
        yield return Frame("TruncatedAfterGoodFrames", Decodes(Auth + Auth + Api + "Content-Length: 10\n\nabcde", 2));

        // ---- CR tolerance (libesl ends a block at "\n\n" or "\n\r\n", whichever comes first)
        yield return Frame("LfCrLfEndsTheBlock", Decodes("Content-Type: command/reply\nReply-Text: +OK\n\r\n" + Auth, 2, m =>
            Assert.That(((CommandReply)m[0]).ReplyText, Is.EqualTo("+OK"))));
        yield return Frame("CrLfFrame", Decodes("Content-Type: api/response\r\nContent-Length: 4\r\n\r\ntrue" + Auth, 2, m =>
        {
            Assert.That(m[0], Is.TypeOf<ApiResponse>());
            Assert.That(m[0].BodyText, Is.EqualTo("true"));
            Assert.That(m[0].Headers["Content-Length"], Is.EqualTo("4"));
        }));
        yield return Frame("CrLfFrameThenStrayBlankLine", Decodes("Content-Type: command/reply\r\nReply-Text: +OK\r\n\r\n\n" + Auth, 2, m =>
            Assert.That(((CommandReply)m[0]).ReplyText, Is.EqualTo("+OK"))));
        yield return Frame("LfCrLfThenLf", Decodes("Content-Type: command/reply\nReply-Text: +OK\n\r\n\n" + Auth, 2, m =>
            Assert.That(((CommandReply)m[0]).ReplyText, Is.EqualTo("+OK"))));
        yield return Frame("LfCrLfInsideBodyIsBody", Decodes(Api + "Content-Length: 7\n\na\n\r\nb\n\n" + Auth, 2, m =>
            Assert.That(m[0].BodyText, Is.EqualTo("a\n\r\nb\n\n"))));
    }

    [TestCaseSource(nameof(FrameCases))]
    public void FrameDecoderSurvives(Case c) => RunEverySplit(c, o => new EslFrameDecoder(o));

    // ---------------------------------------------------------------- command decoder cases

    private static TestCaseData Command(string name, Case c) => new TestCaseData(c).SetName("Command_" + name);

    public static IEnumerable<TestCaseData> CommandCases()
    {
        yield return Command("ContentLengthNegative", Fails("sendmsg\nContent-Length: -1\n\nabc", EslCodecError.BadContentLength));
        yield return Command("ContentLengthNonNumeric", Fails("sendmsg\ncontent-length: lots\n\nabc", EslCodecError.BadContentLength));
        yield return Command("ContentLengthEmpty", Fails("sendmsg\nContent-Length:\n\nabc", EslCodecError.BadContentLength));
        yield return Command("ContentLengthOverflow", Fails("sendmsg\nContent-Length: 99999999999999999999\n\n", EslCodecError.BadContentLength));
        yield return Command("ContentLengthSpaceInside", Fails("sendmsg\nContent-Length: 1 2\n\n", EslCodecError.BadContentLength));
        yield return Command("ContentLengthHuge17MiB", new Case
        {
            Input = Cat(B("sendmsg\nContent-Length: 17825792\n\n"), new byte[65536]),
            Error = EslCodecError.FrameTooLarge,
            MaxAllocated = 1024 * 1024,
        });
        yield return Command("ContentLengthOverSmallLimit", Fails("sendmsg\nContent-Length: 5000\n\n", EslCodecError.FrameTooLarge, options: Small));
        yield return Command("ContentLengthSpacesAroundCrLf", Commands("sendmsg\r\nContent-Length:   3  \r\n\r\nabcexit\n\n", 2, m =>
        {
            Assert.That(m[0].BodyText, Is.EqualTo("abc"));
            Assert.That(m[1].Line, Is.EqualTo("exit"));
        }));
        yield return Command("CommandLineNeverEndsWithLimit", new Case
        {
            Input = B(new string('a', 1 << 20)),
            Options = Small,
            Error = EslCodecError.HeaderBlockTooLarge,
            MaxAllocated = 1024 * 1024,
        });
        yield return Command("HeadersNeverEndWithLimit", new Case
        {
            Input = B("sendmsg\n" + string.Concat(Enumerable.Repeat("X-Endless: yes\n", 70_000))),
            Options = Small,
            Error = EslCodecError.HeaderBlockTooLarge,
            MaxAllocated = 1024 * 1024,
        });
        yield return Command("HundredThousandHeaders", new Case
        {
            Input = B("sendevent CUSTOM\n" + string.Concat(Enumerable.Range(0, 100_000).Select(i => $"H{i}: {i}\n")) + "\n"),
            Messages = 1,
            Check = m =>
            {
                var headers = ((EslCommand)m[0]).Headers;
                Assert.That(headers.Count, Is.EqualTo(100_000));
                Assert.That(headers["h99999"], Is.EqualTo("99999"));
            },
            MaxAllocated = 24L * 1024 * 1024,
        });
        yield return Command("OneMegabyteCommandLine", new Case
        {
            Input = B("api " + new string('x', 1 << 20) + "\n\n"),
            Messages = 1,
            Check = m => Assert.That(((EslCommand)m[0]).Arguments, Has.Length.EqualTo(1 << 20)),
            MaxAllocated = 16L * 1024 * 1024,
        });
        yield return Command("NulInCommandLine", Commands("api status\0exit\n\n", 1, m => Assert.That(m[0].Arguments, Is.EqualTo("status\0exit"))));
        yield return Command("InvalidUtf8InCommandLine", Commands(Cat(B("api "), new byte[] { 0xFF, 0xC3 }, B("\n\n")), 1, m => Assert.That(m[0].Arguments, Is.EqualTo("\uFFFD\uFFFD"))));
        yield return Command("HeaderLineWithoutColon", Commands("sendmsg\nno colon here\ncall-command: hangup\n\n", 1, m =>
        {
            Assert.That(m[0].Headers.Count, Is.EqualTo(1));
            Assert.That(m[0].Headers["call-command"], Is.EqualTo("hangup"));
        }));
        yield return Command("OnlyLineEnds", new Case { Input = B(string.Concat(Enumerable.Repeat("\r\n\n\r", 250_000))), Messages = 0, MaxAllocated = 2L * 1024 * 1024 });
        yield return Command("BodyFullOfBlankLines", Commands("sendmsg\nContent-Length: 5000\n\n" + new string('\n', 5000) + "exit\n\n", 2, m =>
        {
            Assert.That(m[0].BodyText, Is.EqualTo(new string('\n', 5000)));
            Assert.That(m[1].Line, Is.EqualTo("exit"));
        }));
        yield return Command("TruncatedCommandLine", Decodes("api stat", 0));
        yield return Command("TruncatedHeaders", Decodes("sendmsg\ncall-command: exe", 0));
        yield return Command("TruncatedBody", Decodes("sendmsg\nContent-Length: 10\n\nabc", 0));
        yield return Command("TenThousandCommandsInOneRead", new Case
        {
            Input = B(string.Concat(Enumerable.Repeat("api status\n\n", 10_000))),
            Messages = 10_000,
            Check = m => Assert.That(m.Cast<EslCommand>().Select(c => c.Line), Has.All.EqualTo("api status")),
            MaxAllocated = 16L * 1024 * 1024,
        });
    }

    [TestCaseSource(nameof(CommandCases))]
    public void CommandDecoderSurvives(Case c) => RunEverySplit(c, o => new EslCommandDecoder(o));

    // ================================================================ failures stop the stream

    [Test]
    public void AfterAFailureTheFrameDecoderDiscardsEverything()
    {
        var bad = B(Api + "Content-Length: -1\n\n");
        var good = B(Auth + "Content-Type: command/reply\nReply-Text: +OK\n\n");

        var run = Run(new EslFrameDecoder(), new[] { good, bad, good, good, B(new string('x', 100_000)), good });

        Assert.That(run.Messages, Has.Count.EqualTo(2), "only the frames before the fault");
        Assert.That(run.Errors, Has.Count.EqualTo(1), "one typed failure, then silence");
        Assert.That(Unwrap(run.Errors[0]).Error, Is.EqualTo(EslCodecError.BadContentLength));
    }

    [Test]
    public void AfterAFailureTheCommandDecoderDiscardsEverything()
    {
        var bad = B("sendmsg\nContent-Length: nope\n\n");
        var good = B("api status\n\n");

        var run = Run(new EslCommandDecoder(), new[] { good, bad, good, good, good });

        Assert.That(run.Messages, Has.Count.EqualTo(1));
        Assert.That(run.Errors, Has.Count.EqualTo(1));
        Assert.That(Unwrap(run.Errors[0]).Error, Is.EqualTo(EslCodecError.BadContentLength));
    }

    [Test]
    public void TheGoodFramesOfTheFailingReadAreStillDelivered()
    {
        var run = Run(new EslFrameDecoder(), new[] { B(Auth + Auth + Auth + "GARBAGE\n\n" + Auth) });

        Assert.That(run.Messages, Has.Count.EqualTo(3));
        Assert.That(run.Errors.Select(e => Unwrap(e).Error), Is.EqualTo(new[] { EslCodecError.HeaderLineWithoutColon }));
    }

    [Test]
    public void AFailedDecoderDiscardsGarbageWithoutKeepingIt()
    {
        foreach (var decoder in new IChannelHandler[] { new EslFrameDecoder(), new EslCommandDecoder() })
        {
            var chunks = Enumerable.Range(0, 272).Select(i =>
            {
                var chunk = new byte[64 * 1024];
                new Random(i).NextBytes(chunk);
                return Unpooled.WrappedBuffer(chunk);
            }).ToList();
            var channel = new EmbeddedChannel(decoder);

            Assert.That(
                () => channel.WriteInbound(Unpooled.WrappedBuffer(B("X-First: y\nContent-Length: x\n\n"))),
                Throws.TypeOf<EslCodecException>().With.Property(nameof(EslCodecException.Error)).EqualTo(EslCodecError.BadContentLength));

            // Warm up (DotNetty's allocator reserves its arena once), then measure 16 MiB of garbage.
            foreach (var chunk in chunks.Take(16))
            {
                channel.WriteInbound(chunk);
            }

            var before = GC.GetAllocatedBytesForCurrentThread();
            foreach (var chunk in chunks.Skip(16))
            {
                channel.WriteInbound(chunk);
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.That(channel.ReadInbound<object>(), Is.Null, "nothing decoded after the fault");
            Assert.That(allocated, Is.LessThan(2L * 1024 * 1024), $"{decoder.GetType().Name}: garbage after the fault is dropped, not accumulated");
            Assert.That(channel.Finish(), Is.False);
        }
    }

    [Test]
    public void TheRethrownExceptionIsTheTypedOneUnwrapped()
    {
        // EslCodecException derives from DecoderException, so DotNetty does not wrap it.
        var run = Run(new EslFrameDecoder(), new[] { B("no colon\n\n") });

        Assert.That(run.Errors, Has.Count.EqualTo(1));
        Assert.That(run.Errors[0], Is.TypeOf<EslCodecException>());
        Assert.That(((EslCodecException)run.Errors[0]).Error, Is.EqualTo(EslCodecError.HeaderLineWithoutColon));
        Assert.That(run.Errors[0].Message, Does.Contain("no colon"));
    }

    [Test]
    public void AnEventFrameSplitInsideItsLfLfDecodesOnce()
    {
        var frame = Event("Event-Name: CUSTOM\nX: 1\n\n");
        var split = frame.AsSpan().IndexOf("\n\n"u8) + 1;

        var run = Run(new EslFrameDecoder(), new[] { frame[..split], frame[split..], frame[..split], frame[split..] });

        Assert.That(run.Errors, Is.Empty);
        Assert.That(run.Messages.Select(m => ((EslEvent)m).EventName), Is.EqualTo(new[] { "CUSTOM", "CUSTOM" }));
    }

    // ================================================================ a decoded frame parses again

    [Test]
    public void EveryCapturedFrameParsesAgainFromItsWireBytes()
    {
        var frames = Capture.Names.SelectMany(n => Capture.Streams(n, "fs").Values).SelectMany(DecodeHarness.DecodeFrames).ToList();

        foreach (var original in frames)
        {
            var again = EslMessage.FromFrame(original.Wire.ToArray());
            Assert.That(again.GetType(), Is.EqualTo(original.GetType()));
            Assert.That(again.Headers.Select(h => (h.Name, h.Value)), Is.EqualTo(original.Headers.Select(h => (h.Name, h.Value))));
            Assert.That(again.Body.ToArray(), Is.EqualTo(original.Body.ToArray()));
        }
    }

    [TestCase("Content-Type: command/reply\nReply-Text: +OK\n\r\n")]
    [TestCase("Content-Type: api/response\r\nContent-Length: 4\r\n\r\ntrue")]
    public void AFrameTheDecoderAcceptsParsesAgainFromItsWireBytes(string text)
    {
        var decoded = HeaderTests.Decode(B(text));

        var again = EslMessage.FromFrame(decoded.Wire.ToArray());

        Assert.That(again.GetType(), Is.EqualTo(decoded.GetType()));
        Assert.That(again.Headers.Select(h => (h.Name, h.Value)), Is.EqualTo(decoded.Headers.Select(h => (h.Name, h.Value))));
        Assert.That(again.BodyText, Is.EqualTo(decoded.BodyText));
    }

    // ================================================================ the pipeline's error handler

    [Test]
    public void TheErrorHandlerLogsOnceAndClosesOnlyOnAFramingFault()
    {
        var logger = new CountingLogger();
        var faults = new List<EslCodecError>();
        var channel = new EmbeddedChannel(new EslFrameDecoder(), new EslCodecErrorHandler(logger, e => faults.Add(e.Error)));

        channel.WriteInbound(Unpooled.WrappedBuffer(B(Auth)));
        Assert.That(channel.ReadInbound<object>(), Is.TypeOf<AuthRequest>());
        Assert.That(channel.Active, Is.True);

        Assert.DoesNotThrow(() => channel.WriteInbound(Unpooled.WrappedBuffer(B(Api + "Content-Length: -7\n\n" + Auth))), "the handler consumes the typed failure");

        Assert.That(channel.Active, Is.False, "the connection is closed");
        Assert.That(faults, Is.EqualTo(new[] { EslCodecError.BadContentLength }));
        Assert.That(logger.Warnings, Has.Count.EqualTo(1), "one log line");
        Assert.That(logger.Warnings[0], Does.Contain("BadContentLength"));
        Assert.That(channel.ReadInbound<object>(), Is.Null);
        channel.FinishAndReleaseAll();
    }

    [Test]
    public void TheErrorHandlerPassesOtherExceptionsOn()
    {
        var logger = new CountingLogger();
        var channel = new EmbeddedChannel(new EslFrameDecoder(), new EslCodecErrorHandler(logger));

        channel.Pipeline.FireExceptionCaught(new InvalidOperationException("not a framing fault"));

        Assert.That(() => channel.CheckException(), Throws.InvalidOperationException);
        Assert.That(channel.Active, Is.True);
        Assert.That(logger.Warnings, Is.Empty);
        channel.FinishAndReleaseAll();
    }

    private sealed class CountingLogger : Microsoft.Extensions.Logging.ILogger
    {
        public List<string> Warnings { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= Microsoft.Extensions.Logging.LogLevel.Warning)
            {
                Warnings.Add(formatter(state, exception));
            }
        }
    }

    // ================================================================ reference deviations

    [Test]
    public void AHeaderBlockEndingInLfCrLfIsAcceptedLikeLibesl()
    {
        var run = Run(new EslFrameDecoder(), new[] { B("Content-Type: command/reply\nReply-Text: +OK\n\r\n" + Auth) });

        Assert.That(run.Errors, Is.Empty);
        Assert.That(run.Messages, Has.Count.EqualTo(2));
        Assert.That(((CommandReply)run.Messages[0]).ReplyText, Is.EqualTo("+OK"));
    }

    [Test]
    public void ALongCommandHeaderLineInSmallReadsIsScannedOnce()
    {
        // Same as the command line, for a header line after some complete ones.
        var decoder = new EslCommandDecoder();
        var channel = new EmbeddedChannel(decoder);
        var head = "sendmsg\r\ncall-command: execute\r\nexecute-app-arg: ";
        channel.WriteInbound(Unpooled.WrappedBuffer(B(head)));
        var buffered = head.Length;
        for (var i = 0; i < 8192; i++)
        {
            channel.WriteInbound(Unpooled.WrappedBuffer(Enumerable.Repeat((byte)'a', 128).ToArray()));
            buffered += 128;
            Assert.That(decoder.ScannedBytes, Is.EqualTo(buffered), $"after read {i}");
        }

        channel.WriteInbound(Unpooled.WrappedBuffer(B("\r\n\r\n")));
        var command = channel.ReadInbound<EslCommand>();
        Assert.That(command.Headers["execute-app-arg"], Has.Length.EqualTo(8192 * 128));
        Assert.That(command.Headers["call-command"], Is.EqualTo("execute"));
        channel.FinishAndReleaseAll();
    }

    [Test]
    public void ALongCommandLineInSmallReadsIsScannedOnce()
    {
        // Each read must resume the search where the last stopped: scanning the whole line
        // again on every read makes a trickling line cost O(n²).
        var decoder = new EslCommandDecoder();
        var channel = new EmbeddedChannel(decoder);
        channel.WriteInbound(Unpooled.WrappedBuffer(B("api ")));
        var buffered = "api ".Length;
        for (var i = 0; i < 32768; i++)
        {
            channel.WriteInbound(Unpooled.WrappedBuffer(Enumerable.Repeat((byte)'a', 128).ToArray()));
            buffered += 128;
            Assert.That(decoder.ScannedBytes, Is.EqualTo(buffered), $"command decoder after read {i}");
        }

        channel.WriteInbound(Unpooled.WrappedBuffer(B("\n\n")));
        Assert.That(channel.ReadInbound<object>(), Is.Not.Null);
        channel.FinishAndReleaseAll();
    }

    [TestCase(1 << 20, '\n')]
    [TestCase(1 << 20, 'x')]
    public void ReadingTheHeadersOfAnEventWithAHugeBodyCostsLittle(int bodyBytes, char fill)
    {
        var inner = HeaderTests.Cat(B($"Event-Name: BACKGROUND_JOB\nJob-UUID: j1\nContent-Length: {bodyBytes}\n\n"), B(new string(fill, bodyBytes)));
        var e = (EslEvent)HeaderTests.Decode(Wrap("text/event-plain", inner));

        var before = GC.GetAllocatedBytesForCurrentThread();
        var name = e.EventName;
        var count = e.EventHeaders.Count;
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(name, Is.EqualTo("BACKGROUND_JOB"));
        Assert.That(count, Is.EqualTo(2));
        Assert.That(e.EventBody.Length, Is.EqualTo(bodyBytes));
        Assert.That(allocated, Is.LessThan(64 * 1024), "the inner header index must not grow with the body");
    }

    [Test]
    public void ALongFrameHeaderLineInSmallReadsIsScannedOnce()
    {
        // Each read must resume the search where the last stopped: scanning the whole line
        // again on every read makes a trickling line cost O(n²).
        var decoder = new EslFrameDecoder();
        var channel = new EmbeddedChannel(decoder);
        channel.WriteInbound(Unpooled.WrappedBuffer(B("Content-Type: command/reply\nReply-Text: ")));
        var buffered = "Content-Type: command/reply\nReply-Text: ".Length;
        for (var i = 0; i < 32768; i++)
        {
            channel.WriteInbound(Unpooled.WrappedBuffer(Enumerable.Repeat((byte)'a', 128).ToArray()));
            buffered += 128;
            Assert.That(decoder.ScannedBytes, Is.EqualTo(buffered), $"frame decoder after read {i}");
        }

        channel.WriteInbound(Unpooled.WrappedBuffer(B("\n\n")));
        Assert.That(channel.ReadInbound<object>(), Is.Not.Null);
        channel.FinishAndReleaseAll();
    }

    // ================================================================ random bytes

    [Test]
    public void RandomBytesNeverEscapeAsAnythingButTheTypedFailure()
    {
        var random = new Random(424242);
        var tokens = new[]
        {
            "Content-Length: ", "Content-Type: ", "text/event-plain", "text/event-json", "text/event-xml", "api/response", "command/reply",
            "text/disconnect-notice", "log/data", "Event-Name: ", "Reply-Text: ", "Linger-Time: ", "Content-Disposition: linger", "\n", "\n\n",
            "\r\n", ":", " ", "%", "%C3%A9", "%ZZ", "%0A", "0", "7", "12", "-1", "ARRAY::a|:b", "{\"Event-Name\":\"X\",", "\"", "[", "]", "}",
            "<event><headers>", "</headers></event>", "sendmsg", "api ", "exit",
        }.Select(B).ToArray();
        var typed = 0;
        var messages = 0;

        for (var i = 0; i < 2000; i++)
        {
            var buffer = RandomBuffer(random, tokens, random.Next(1, 4097));
            var options = random.Next(4) == 0 ? new EslDecoderOptions { MaxFrameBytes = random.Next(16, 2048) } : EslDecoderOptions.Default;
            var chunks = RandomChunks(random, buffer);

            foreach (var decoder in new IChannelHandler[] { new EslFrameDecoder(options), new EslCommandDecoder(options) })
            {
                var run = Run(decoder, chunks);
                Assert.That(run.Errors, Has.Count.LessThanOrEqualTo(1), $"buffer {i}: a failed decoder stays silent");
                foreach (var error in run.Errors)
                {
                    Assert.That(error, Is.TypeOf<EslCodecException>(), $"buffer {i} ({decoder.GetType().Name}): {error}");
                    typed++;
                }

                foreach (var message in run.Messages)
                {
                    Touch(message);
                    messages++;
                }
            }
        }

        TestContext.Out.WriteLine($"{typed} typed failures, {messages} messages");
        Assert.That(typed, Is.GreaterThan(100), "the generator reaches the failure paths");
        Assert.That(messages, Is.GreaterThan(1000), "the generator reaches the decoding paths");
    }

    [Test]
    public void MutatedCaptureTrafficNeverEscapesAsAnythingButTheTypedFailure()
    {
        var frames = Capture.Names.SelectMany(n => Capture.Streams(n, "fs").Values).SelectMany(DecodeHarness.DecodeFrames).Select(m => m.Wire.ToArray()).ToList();
        var commands = Capture.Names.SelectMany(n => Capture.Streams(n, "app").Values).SelectMany(DecodeHarness.DecodeCommands).Select(c => c.Wire.ToArray()).ToList();
        var random = new Random(9001);
        var special = B("\n\n\r:% 0123456789-%C3\0");
        var outcomes = new Dictionary<string, int>();

        for (var i = 0; i < 2000; i++)
        {
            var fromFs = i % 2 == 0;
            var source = fromFs ? frames[random.Next(frames.Count)] : commands[random.Next(commands.Count)];
            var mutated = Mutate(random, source, special);
            var input = Cat(mutated, fromFs ? B(Auth) : B("exit\n\n"));
            var decoder = fromFs ? (IChannelHandler)new EslFrameDecoder() : new EslCommandDecoder();

            var run = Run(decoder, RandomChunks(random, input));

            Assert.That(run.Errors, Has.Count.LessThanOrEqualTo(1), $"mutation {i}");
            foreach (var error in run.Errors)
            {
                Assert.That(error, Is.TypeOf<EslCodecException>(), $"mutation {i}: {error}");
                var key = ((EslCodecException)error).Error.ToString();
                outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
            }

            foreach (var message in run.Messages)
            {
                Touch(message);
            }

            outcomes["messages"] = outcomes.GetValueOrDefault("messages") + run.Messages.Count;
        }

        TestContext.Out.WriteLine(string.Join(", ", outcomes.Select(o => $"{o.Key}: {o.Value}")));
        Assert.That(outcomes.GetValueOrDefault("messages"), Is.GreaterThan(2000));
        Assert.That(outcomes.Keys.Count(k => k != "messages"), Is.GreaterThanOrEqualTo(2), "several kinds of failure are reached");
    }

    private static byte[] Mutate(Random random, byte[] source, byte[] special)
    {
        var bytes = source.ToList();
        for (var m = random.Next(1, 5); m > 0 && bytes.Count > 0; m--)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1:
                    bytes[at] = special[random.Next(special.Length)];
                    break;
                case 2:
                    bytes.Insert(at, special[random.Next(special.Length)]);
                    break;
                case 3:
                    bytes.RemoveRange(at, Math.Min(bytes.Count - at, random.Next(1, 32)));
                    break;
                case 4:
                    var length = Math.Min(bytes.Count - at, random.Next(1, 64));
                    bytes.InsertRange(random.Next(bytes.Count), bytes.GetRange(at, length));
                    break;
                default:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
            }
        }

        return bytes.ToArray();
    }

    // ================================================================ harness

    private static void RunEverySplit(Case c, Func<EslDecoderOptions, IChannelHandler> create)
    {
        var options = c.Options ?? EslDecoderOptions.Default;
        var splits = new List<(string Name, List<byte[]> Chunks)>
        {
            ("whole", new List<byte[]> { c.Input }),
            ("4 KiB reads", Chunk(c.Input, 4096)),
            ("random reads", RandomChunks(new Random(c.Input.Length), c.Input)),
        };
        if (c.Input.Length <= 64 * 1024)
        {
            splits.Add(("1-byte reads", Chunk(c.Input, 1)));
        }

        foreach (var (name, chunks) in splits)
        {
            var run = Run(create(options), chunks);
            if (c.Error is { } error)
            {
                Assert.That(run.Errors, Has.Count.EqualTo(1), $"{name}: one typed failure");
                Assert.That(Unwrap(run.Errors[0]).Error, Is.EqualTo(error), $"{name}: {run.Errors[0].Message}");
            }
            else
            {
                Assert.That(run.Errors, Is.Empty, name);
            }

            Assert.That(run.Messages, Has.Count.EqualTo(c.Messages), name);
            foreach (var message in run.Messages)
            {
                Touch(message);
            }

            c.Check?.Invoke(run.Messages);
            if (name == "whole")
            {
                Assert.That(run.Allocated, Is.LessThan(c.MaxAllocated), "bytes allocated while decoding");
            }
        }
    }

    private sealed record Outcome(List<object> Messages, List<Exception> Errors, long Allocated);

    /// <summary>Feeds the chunks through a real decoder in an EmbeddedChannel, going on after a failure.</summary>
    private static Outcome Run(IChannelHandler decoder, IReadOnlyList<byte[]> chunks)
    {
        var buffers = chunks.Where(c => c.Length > 0).Select(c => Unpooled.WrappedBuffer(c)).ToList();
        var channel = new EmbeddedChannel(decoder);
        var messages = new List<object>();
        var errors = new List<Exception>();
        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var buffer in buffers)
        {
            try
            {
                channel.WriteInbound(buffer);
            }
            catch (Exception e)
            {
                errors.Add(e);
            }

            Drain(channel, messages);
        }

        try
        {
            channel.Finish();
        }
        catch (Exception e)
        {
            errors.Add(e);
        }

        Drain(channel, messages);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        channel.ReleaseInbound();
        channel.ReleaseOutbound();
        return new Outcome(messages, errors, allocated);
    }

    private static void Drain(EmbeddedChannel channel, List<object> messages)
    {
        while (channel.ReadInbound<object>() is { } message)
        {
            messages.Add(message);
        }
    }

    /// <summary>The typed failure, whether DotNetty passed it as is or wrapped it.</summary>
    private static EslCodecException Unwrap(Exception e) => e switch
    {
        EslCodecException typed => typed,
        DecoderException { InnerException: EslCodecException inner } => inner,
        _ => throw new AssertionException($"expected an EslCodecException, got {e}"),
    };

    /// <summary>Reads every lazily computed property, as a user would.</summary>
    private static void Touch(object message)
    {
        switch (message)
        {
            case EslCommand command:
                _ = command.Line + command.Verb + command.Arguments + command.BodyText;
                foreach (var header in command.Headers)
                {
                    _ = header.Name + header.Value;
                }

                break;
            case EslMessage m:
                _ = m.ContentType + m.BodyText + m.ToString();
                for (var i = 0; i < m.Headers.Count; i++)
                {
                    // Look-ups by name are linear: only for the first headers, or 100,000 headers take minutes.
                    _ = m.Headers[i].Name + m.Headers[i].Value + m.Headers.GetRawValue(i) + (i < 64 ? m.Headers.GetValues(m.Headers[i].Name).Count : 0);
                }

                switch (m)
                {
                    case EslEvent e:
                        _ = e.EventName + e.UniqueId + e.JobUuid + e.EventBodyText + e.EventBody.Length;
                        for (var i = 0; i < e.EventHeaders.Count; i++)
                        {
                            var header = e.EventHeaders[i];
                            _ = header.Name + header.Value + (i < 64 ? e.EventHeaders.GetValues(header.Name).Count : 0);
                        }

                        break;
                    case CommandReply r:
                        _ = r.ReplyText + r.RawReplyText + r.IsOk + r.IsError + r.JobUuid + r.IsConnectReply + r.SocketMode + r.Control + r.UniqueId;
                        break;
                    case ApiResponse a:
                        _ = a.IsOk.ToString() + a.IsError;
                        break;
                    case DisconnectNotice d:
                        _ = d.Disposition + d.IsLinger + d.ControlledSessionUuid + d.LingerTime + d.ChannelName;
                        break;
                    case LogData l:
                        _ = l.Level;
                        break;
                }

                break;
        }
    }

    private static byte[] RandomBuffer(Random random, byte[][] tokens, int length)
    {
        var result = new List<byte>(length + 64);
        while (result.Count < length)
        {
            switch (random.Next(3))
            {
                case 0:
                    result.Add((byte)random.Next(256));
                    break;
                default:
                    result.AddRange(tokens[random.Next(tokens.Length)]);
                    break;
            }
        }

        return result.Take(length).ToArray();
    }

    private static List<byte[]> RandomChunks(Random random, byte[] input)
    {
        var chunks = new List<byte[]>();
        var pos = 0;
        while (pos < input.Length)
        {
            var size = random.Next(4) switch
            {
                0 => 1,
                1 => random.Next(1, 16),
                2 => random.Next(1, 512),
                _ => random.Next(1, 65536),
            };
            size = Math.Min(size, input.Length - pos);
            chunks.Add(input[pos..(pos + size)]);
            pos += size;
        }

        return chunks;
    }

    private static List<byte[]> Chunk(byte[] input, int size)
    {
        var chunks = new List<byte[]>();
        for (var pos = 0; pos < input.Length; pos += size)
        {
            chunks.Add(input[pos..Math.Min(input.Length, pos + size)]);
        }

        return chunks;
    }

    private static byte[] Event(string body) => Wrap("text/event-plain", B(body));

    private static byte[] Json(string body) => Wrap("text/event-json", B(body));

    private static byte[] Xml(string body) => Wrap("text/event-xml", B(body));

    private static byte[] Wrap(string contentType, byte[] body) => HeaderTests.Frame(contentType, body);

    private static byte[] B(string text) => Encoding.UTF8.GetBytes(text);

    private static byte[] Cat(params byte[][] parts) => HeaderTests.Cat(parts);
}

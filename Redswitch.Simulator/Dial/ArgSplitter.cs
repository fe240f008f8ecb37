using System.Text;

namespace Redswitch.Simulator.Dial;

/// <summary>FreeSWITCH's blank-delimited argument split (switch_separate_string with ' ').</summary>
public static class ArgSplitter
{
    /// <summary>
    /// Splits on runs of spaces. A single-quoted region is not split and its quotes are removed; a backslash
    /// protects the next character, and in cleanup <c>\' \" \\</c> become the character, <c>\n \r \t \s</c>
    /// become LF, CR, TAB and space; any other <c>\x</c> stays as the two characters.
    /// </summary>
    public static List<string> SplitBlank(string s)
    {
        var result = new List<string>();
        var sb = new StringBuilder();
        bool inToken = false, quote = false;
        for (int i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '\\' && i + 1 < s.Length)
            {
                var n = s[++i];
                sb.Append(n switch
                {
                    '\'' or '"' or '\\' => n.ToString(),
                    'n' => "\n",
                    'r' => "\r",
                    't' => "\t",
                    's' => " ",
                    _ => "\\" + n,
                });
                inToken = true;
                continue;
            }
            if (c == '\'') { quote = !quote; inToken = true; continue; }
            if (c == ' ' && !quote)
            {
                if (inToken) { result.Add(sb.ToString()); sb.Clear(); inToken = false; }
                continue;
            }
            sb.Append(c);
            inToken = true;
        }
        if (inToken) result.Add(sb.ToString());
        return result;
    }
}

import Foundation

/// Small self-contained SVG charts for training reports (open them in a browser).
public enum SVGPlot {
    /// One line of a chart.
    public struct Series {
        /// Legend label.
        public var name: String
        /// y values at x = 1, 2, ….
        public var values: [Double]
        /// Stroke colour (CSS).
        public var color: String

        /// Creates a series.
        public init(name: String, values: [Double], color: String) {
            self.name = name
            self.values = values
            self.color = color
        }
    }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    private static func number(_ v: Double) -> String { String(format: "%.4g", v) }

    /// The width of `text` at `fontSize` in a sans-serif font, estimated generously (0.6 em a
    /// character), to keep labels inside the canvas.
    static func estimatedWidth(_ text: String, fontSize: Double = 12) -> Double {
        0.6 * fontSize * Double(text.count)
    }

    /// Round values for the ticks of an axis covering `lo`…`hi`: consecutive multiples of a step
    /// of 1, 2, 2.5 or 5 × 10ᵏ, about `count` of them, from at or below `lo` to at or above
    /// `hi`, with the labels written to the step's decimals (0.80, 0.85, 0.90).
    static func roundTicks(from lo: Double, to hi: Double, count: Int = 5) -> [(value: Double, label: String)] {
        let raw = Swift.max(hi - lo, 1e-12) / Double(Swift.max(count - 1, 1))
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let mantissa = [1, 2, 2.5, 5, 10].first { $0 * magnitude >= raw * (1 - 1e-9) } ?? 10
        let step = mantissa * magnitude
        let first = (lo / step).rounded(.down), last = (hi / step).rounded(.up)
        let decimals = Swift.max(0, -Int(log10(step).rounded(.down))) + (mantissa == 2.5 ? 1 : 0)
        let useExponent = step >= 1e6 || step < 1e-5
        return stride(from: first, through: last, by: 1).map { k in
            let value = k * step
            return (value, useExponent ? String(format: "%g", value) : String(format: "%.\(decimals)f", value))
        }
    }

    /// A line chart with axes, round ticks, a title, axis labels and a legend, all inside the
    /// canvas (the right margin grows with the longest series name).
    public static func lineChart(title: String, xLabel: String, yLabel: String, series: [Series],
                                 width: Double = 640, height: Double = 400) -> String {
        let legendWidth = 40 + (series.map { estimatedWidth($0.name) }.max() ?? 0) + 10
        let (left, right, top, bottom) = (70.0, Swift.max(legendWidth + 15, 100), 40.0, 50.0)
        let plotW = width - left - right, plotH = height - top - bottom
        let all = series.flatMap(\.values).filter(\.isFinite)
        var lo = all.min() ?? 0, hi = all.max() ?? 1
        if hi - lo < 1e-12 { lo -= 0.5; hi += 0.5 }
        // The axis spans the round values around the data (an accuracy of 1 tops at 1, not 1.25).
        let yTicks = roundTicks(from: lo, to: hi)
        lo = yTicks.first!.value; hi = yTicks.last!.value
        let n = max(series.map(\.values.count).max() ?? 1, 2)
        func x(_ i: Int) -> Double { left + plotW * Double(i) / Double(n - 1) }
        func y(_ v: Double) -> Double { top + plotH * (1 - (v - lo) / (hi - lo)) }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>
        <g class="axes" stroke="black">
        <line x1="\(left)" y1="\(top + plotH)" x2="\(left + plotW)" y2="\(top + plotH)"/>
        <line x1="\(left)" y1="\(top)" x2="\(left)" y2="\(top + plotH)"/>
        </g>

        """
        for (v, label) in yTicks {
            svg += "<line x1=\"\(left - 4)\" y1=\"\(number(y(v)))\" x2=\"\(left)\" y2=\"\(number(y(v)))\" stroke=\"black\"/>"
            svg += "<line x1=\"\(left)\" y1=\"\(number(y(v)))\" x2=\"\(left + plotW)\" y2=\"\(number(y(v)))\" stroke=\"#ddd\"/>"
            svg += "<text class=\"ytick\" x=\"\(left - 8)\" y=\"\(number(y(v) + 4))\" text-anchor=\"end\">\(label)</text>\n"
        }
        // Epochs 1, then every multiple of a round step (all of them up to 10 epochs).
        let step = max(1, Int(roundTicks(from: 0, to: Double(n), count: 10)[1].value))
        for i in 0..<n where i == 0 || (i + 1) % step == 0 {
            svg += "<line x1=\"\(x(i))\" y1=\"\(top + plotH)\" x2=\"\(x(i))\" y2=\"\(top + plotH + 4)\" stroke=\"black\"/>"
            svg += "<text class=\"xtick\" x=\"\(x(i))\" y=\"\(top + plotH + 18)\" text-anchor=\"middle\">\(i + 1)</text>\n"
        }
        svg += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 10)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        svg += "<text x=\"16\" y=\"\(top + plotH / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(top + plotH / 2))\">\(escape(yLabel))</text>\n"
        for (k, s) in series.enumerated() {
            let points = s.values.enumerated().filter { $0.element.isFinite }
                .map { "\(number(x($0.offset))),\(number(y($0.element)))" }.joined(separator: " ")
            svg += "<polyline class=\"series\" data-name=\"\(escape(s.name))\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            for (i, v) in s.values.enumerated() where v.isFinite {
                svg += "<circle cx=\"\(number(x(i)))\" cy=\"\(number(y(v)))\" r=\"3\" fill=\"\(s.color)\"/>"
            }
            let ly = top + 10 + Double(k) * 20
            svg += "\n<line x1=\"\(left + plotW + 15)\" y1=\"\(ly)\" x2=\"\(left + plotW + 35)\" y2=\"\(ly)\" stroke=\"\(s.color)\" stroke-width=\"2\"/>"
            svg += "<text class=\"legend\" x=\"\(left + plotW + 40)\" y=\"\(ly + 4)\">\(escape(s.name))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// A confusion-matrix heat map: rows are true classes, columns predictions, each cell
    /// shaded by its share of the row and labelled with its count.
    public static func confusionMatrix(_ cm: ConfusionMatrix, classNames: [String]? = nil, title: String = "Confusion matrix") -> String {
        let k = cm.classCount
        let names = classNames ?? (0..<k).map(String.init)
        let cell = 44.0, left = 120.0, top = 60.0
        let width = left + cell * Double(k) + 20, height = top + cell * Double(k) + 110
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>
        <text x="\(left + cell * Double(k) / 2)" y="\(height - 10)" text-anchor="middle" font-size="13">predicted</text>
        <text x="14" y="\(top + cell * Double(k) / 2)" text-anchor="middle" font-size="13" transform="rotate(-90 14 \(top + cell * Double(k) / 2))">true</text>

        """
        let support = cm.support
        for t in 0..<k {
            svg += "<text x=\"\(left - 6)\" y=\"\(top + cell * (Double(t) + 0.5) + 4)\" text-anchor=\"end\">\(escape(names[t]))</text>\n"
            for p in 0..<k {
                let count = cm.matrix[t][p]
                let share = support[t] == 0 ? 0 : Double(count) / Double(support[t])
                let shade = Int(255 * (1 - share))
                let fill = "rgb(\(shade),\(shade),255)"
                let textColor = share > 0.5 ? "white" : "black"
                let (cx, cy) = (left + cell * Double(p), top + cell * Double(t))
                svg += "<rect class=\"cell\" data-true=\"\(t)\" data-predicted=\"\(p)\" data-count=\"\(count)\" x=\"\(cx)\" y=\"\(cy)\" width=\"\(cell)\" height=\"\(cell)\" fill=\"\(fill)\" stroke=\"#999\"/>"
                svg += "<text x=\"\(cx + cell / 2)\" y=\"\(cy + cell / 2 + 4)\" text-anchor=\"middle\" fill=\"\(textColor)\">\(count)</text>\n"
            }
        }
        for p in 0..<k {
            let x = left + cell * (Double(p) + 0.5), y = top + cell * Double(k) + 10
            svg += "<text x=\"\(x)\" y=\"\(y)\" text-anchor=\"end\" transform=\"rotate(-45 \(x) \(y))\">\(escape(names[p]))</text>\n"
        }
        return svg + "</svg>\n"
    }
}

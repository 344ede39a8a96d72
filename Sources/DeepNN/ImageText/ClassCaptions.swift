import DeepCore
import Foundation

/// Captions of each class built from templates ("a photo of {item}.", "{item} on a plain
/// background.", …), for image–text training: every class has one caption per template, stored
/// class-major (caption `c · templates.count + t` is class c's with template t).
///
///     let captions = ClassCaptions.fashionMNIST
///     captions.texts[captions.index(ofClass: 7, template: 0)]   // "a photo of a sneaker."
public struct ClassCaptions: Sendable, Equatable {
    /// Each class as it reads in a sentence, article included ("a sneaker", "an ankle boot").
    public let items: [String]
    /// Sentences with one `{item}` each.
    public let templates: [String]
    /// For each class, the classes its images are most often taken for (hard negatives).
    public let confusableClasses: [[Int]]

    /// Captions from `items` and `templates`; `confusableClasses` has one list per class (of other
    /// classes).
    public init(items: [String], templates: [String], confusableClasses: [[Int]]) {
        require(!items.isEmpty && !templates.isEmpty, "ClassCaptions: \(items.count) classes and \(templates.count) templates; both must be at least 1")
        require(templates.allSatisfy { $0.components(separatedBy: "{item}").count == 2 },
                "ClassCaptions: every template must hold {item} once: \(templates)")
        require(confusableClasses.count == items.count
                    && confusableClasses.enumerated().allSatisfy { c, others in others.allSatisfy { $0 != c && items.indices.contains($0) } },
                "ClassCaptions: confusable classes \(confusableClasses) must be one list of other classes per class (\(items.count))")
        self.items = items
        self.templates = templates
        self.confusableClasses = confusableClasses
    }

    /// Classes.
    public var classCount: Int { items.count }
    /// Captions: classes × templates.
    public var count: Int { items.count * templates.count }

    /// Every caption, class-major.
    public var texts: [String] {
        items.flatMap { item in templates.map { $0.replacingOccurrences(of: "{item}", with: item) } }
    }

    /// The class of each caption of ``texts``.
    public var classes: [Int] { items.indices.flatMap { [Int](repeating: $0, count: templates.count) } }

    /// The position in ``texts`` of class `c`'s caption with template `t`.
    public func index(ofClass c: Int, template t: Int) -> Int {
        require(items.indices.contains(c) && templates.indices.contains(t),
                "ClassCaptions.index: class \(c) of \(items.count), template \(t) of \(templates.count)")
        return c * templates.count + t
    }

    /// Fashion-MNIST's ten classes in eight templates; the confusable classes are those a small CNN
    /// mixes up most (tops with tops, footwear with footwear).
    public static let fashionMNIST = ClassCaptions(
        items: ["a t-shirt", "a pair of trousers", "a pullover", "a dress", "a coat",
                "a sandal", "a shirt", "a sneaker", "a bag", "an ankle boot"],
        templates: ["a photo of {item}.", "{item} on a plain background.", "a black and white photo of {item}.",
                    "a low-resolution photo of {item}.", "a small grayscale picture of {item}.", "a centered photo of {item}.",
                    "a product photo of {item}.", "an image showing {item}."],
        confusableClasses: [[6, 2, 3], [3], [4, 6, 0], [0, 4, 1], [2, 6, 3], [7, 9], [0, 2, 4], [5, 9], [6, 4], [7, 5]])
}

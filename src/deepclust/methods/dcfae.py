"""DCFAE: Deep Clustering with a Fusion AutoEncoder (Chang, arXiv 2201.04727).

Stages, each a ``train.run_epochs`` loop with its own checkpoint:

1. ``pretrain`` — the fusion autoencoder: a VAE built from residual blocks whose
   reconstructions an image discriminator learns to tell from the inputs (a GAN); the
   discriminator takes its own simultaneous step on every batch.
2. ``cluster`` — the same terms plus the deep dense network f ("grouper"), trained with the
   cross-entropy between Student-t pairwise similarities of the latent codes (P, ν = 100) and
   of the embedding f(mu) (Q, ν = 1). Our default for images (``p_kernel="graph"``): P is
   t-SNE's over one neighbour graph of all the pretrained codes, and f alone learns it on
   those codes (the class docstring).
3. ``self_label`` (ours, images by default) — the clusters found on f(mu) (``assign``) become
   Gaussian components N(c_k, I) in the code space, and the encoder learns to put each
   randomly shifted and rotated image into its cluster's component, the labels read again
   from its own posterior a few times (``methods.self_labelling``, shared with DSCDAN).

Labels: k-means on f(mu) (paper summary, spec §E.10), sklearn spectral clustering (author's
code) or, our default for images, spectral clustering of one neighbour graph of all the
f(mu); then with ``self_label`` each code's nearest mean c_k. The full paper could not be
retrieved; the losses, schedule and widths come from the author's TF2 code:
``../shared/docs/method-spec.md`` §B, §C, §E.10-12.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.spatial.distance import pdist
from sklearn.cluster import SpectralClustering
from torch import Tensor, nn

from .._shards import batch_indices, gather
from ..exceptions import DeepclustError
from ..graph import (
    batch_affinity,
    neighbor_batches,
    neighbor_graph,
    normalized_cut,
    perplexity_affinity,
    self_tuning_affinity,
    spectral_clusters,
)
from ..losses import (
    bce_reconstruction,
    discriminator_loss,
    generator_loss,
    kl_normal,
    pairwise_cross_entropy,
    perplexity_similarity,
    reconstruction_loss,
    student_t_similarity,
)
from ..nets import (
    DenseGrouper,
    Discriminator,
    MLPDecoder,
    MLPDiscriminator,
    MLPEncoder,
    ResDecoder,
    ResEncoder,
    noisy_transform,
)
from ..nets.autoencoder import MIN_CONV_SIZE
from ..train import place_module
from ..train.augment import random_shift_rotate
from .deep import DEEP_FITTED, DeepClusterer, code_size, hidden_sizes, normalised_kl
from .self_labelling import SelfLabellingMixin

# Ablations of the paper (FAE, residual CNN, DDNN; the table's values were not retrievable):
# each row removes one part from "full", DCFAE with the code's P (a Student-t on each batch's
# codes, trained jointly with the autoencoder) and k-means in place of our defaults.
CODE_P = {"p_kernel": "student-t", "assign": "kmeans", "self_label": False}
VARIANTS: dict[str, dict[str, Any]] = {
    "vae": {**CODE_P, "w_gan": 0.0},             # a VAE: no discriminator, no generator term
    "fae-nores": {**CODE_P, "residual": False},  # plain strided convs (images only)
    "fae": {**CODE_P, "grouper": False},         # no dense network: k-means on mu
    "full": CODE_P,
}
# Schedules: "cpu" is the class default; "paper" is the author's code as run (main.py and
# train.py, method-spec §B.2-B.4): its epochs, batch, learning rate, widths and loss weights.
SCHEDULES: dict[str, dict[str, Any]] = {
    "cpu": {},
    "paper": {"pretrain_epochs": 100, "cluster_epochs": 100, "batch_size": 256, "lr": 1e-4,
              "latent_dim": 50, "widths": (64, 128, 256, 512), "disc_widths": (32, 64, 512),
              "w_kl": 1.0, "w_gan": 100.0, "dof_p": 100.0},
}
# the networks' sizes when "auto": the code's for images, sized from the input for vectors
SIZES: dict[str, Any] = {"latent_dim": code_size(50), "mlp_hidden": hidden_sizes((256, 256, 512)),
                         "disc_hidden": hidden_sizes((256, 256))}
SPECTRAL_MAX_SAMPLES = 20_000  # ours: sklearn's dense RBF affinity is n² floats (3.2 GB here)


class DCFAE(SelfLabellingMixin, DeepClusterer):
    """Deep clustering with a fusion autoencoder: VAE + GAN + dense grouper (Chang, 2022).

    Source tags: paper = the arXiv front matter (all that could be retrieved); code = the
    author's TF2 code; spec = the recommended resolution in method-spec §E; ours = our choice,
    with the reason.

    Parameters
    ----------
    n_clusters : number of clusters K.
    latent_dim : size of mu; ``"auto"``: 50 (code), at most the number of features for
        vectors (ours, ``methods.deep.code_size``). Used: ``latent_dim_``.
    architecture : ``"auto"`` (residual convs for images of at least 16×16, taken at their own
        size: the code resizes to 32×32; MLPs for vectors and smaller images such as 8×8
        digits), ``"conv"`` or ``"mlp"``.
    scaling : how the input is scaled and reconstructed, ``"auto"``, ``"unit"`` or
        ``"standard"`` (ours; see ``methods.deep.choose_scaling``): ``"auto"`` keeps images
        in [0, 1] with the sigmoid decoder and pixel BCE (code) and standardises feature
        vectors with a linear decoder and squared error. The choice made is ``scaling_``.
    widths : channels of the encoder stages (each a stride-2 conv and a residual block),
        reversed in the decoder (code: 64-128-256-512; ours: 16-32-64 for a CPU: on 28×28
        images and 2 cores one training step of encoder, decoder and discriminator runs at
        about 550 images/s, against 140 with 32-64-128, so the CPU schedule's 1,300 batches
        take 10 minutes, not 40). disc_widths: the image discriminator's stages (code:
        32-64-512; ours: 16-32-64).
    residual : residual blocks after each conv (True, code and paper); False is the paper's
        ablation without the residual CNN. It has no effect on the MLP nets.
    mlp_hidden : hidden sizes of the MLP encoder, mirrored by the decoder; disc_hidden: those
        of the MLP discriminator (ours: the code has no MLP variant); ``"auto"``: 256-256-512
        and 256-256, narrower for vectors of under 64 features (ours,
        ``methods.deep.hidden_sizes``). Used: ``mlp_hidden_``, ``disc_hidden_``.
    grouper : train the deep dense network f (False = the ablation "fae": only pretraining,
        k-means on mu). grouper_hidden: its hidden sizes (2048-512-512, code);
        grouper_dropout: 0 (spec §E.12: the code's 0.3 dropout and L2 are inert as run).
    w_rec, w_kl, w_gan, w_cluster : weights of the pixel BCE reconstruction, the KL to
        N(0, I), the generator term and the clustering loss L_c (code: 1, 1, 100, 10; ours:
        1, "auto", 1, 10, see "CPU defaults" and "Feature vectors" below). w_gan=0 drops the
        discriminator (the ablation "vae").
    label_noise : the discriminator's targets get ``label_noise``·U(0, 1) added (0.05, code).
    p_kernel : how P is made from mu, ``"auto"`` (below), ``"student-t"`` (code: a Student-t
        kernel of ``dof_p`` degrees of freedom and fixed width), ``"perplexity"`` (ours:
        t-SNE's Gaussian with a width calibrated per point to ``perplexity`` neighbours within
        the batch, as parametric t-SNE; scale-free: it does not depend on how far apart the
        codes lie) or ``"graph"`` (ours, the default for images: that P computed once over
        the neighbour graph of all the codes after pretraining, 3·perplexity neighbours per
        point as scikit-learn's t-SNE, ``graph.perplexity_affinity``, and stage 2 trains f
        alone on those fixed codes, a parametric t-SNE of them: P stays the codes' own (so
        w_rec, w_kl and w_gan act in pretraining only, and augment does not apply). Its
        batches hold anchors with their ``batch_neighbors`` nearest,
        ``graph.neighbor_batches``, P the batch's block of the global P renormalised; a
        random batch of 256 from 10,000 samples holds under one of a point's 30 nearest).
        Measured (seed 0 unless said; "joint" = the graph's P with the code's joint stage
        2): digits, 3 seeds, 0.944 ACC (joint 0.943) against 0.862 with the Student-t P;
        USPS 0.967 (joint 0.945) against 0.758 (5-seed mean); MNIST-test, f trained on one
        pretraining's codes, 0.929 after 300 batches, 0.968 after 2,000 (joint, 300
        batches: 0.802; Student-t P: 0.803, 5-seed mean); wine, 5 seeds, 0.925 against
        0.924 with the perplexity P. The 10 nearest codes of a point share its class 94.5 %
        of the time on MNIST-test, where k-means on the codes reaches 0.69.
    batch_neighbors : neighbours per anchor in the stage-2 batches of ``p_kernel="graph"``
        (7, ours: 32 anchors and their neighbours in a batch of 256; 3 gave 0.965 against
        0.961 after 1,000 batches on the MNIST-test codes above: kept at 7).
    perplexity : the effective number of neighbours of each point in P (30, t-SNE's default;
        ours: on wine, with the sized networks, 5 seeds 0.910 ACC at 10 against 0.924 at 30;
        on 20-topic tf-idf, seeds 0-1, 0.812 at 10 and 0.820 at 30).
    dof_p, dof_q : Student-t degrees of freedom of P on mu and Q on f(mu) (code: 100 and 1;
        ours: dof_p = 10, below). detach_p: P is a fixed target, no gradient (True, spec
        §E.10; the code: False). Self-similarities are left out of both (as t-SNE; the code
        keeps the diagonal).
    augment : stage-2 augmentation of image batches, random shifts of -1, 0 or +1 pixel and
        rotations of ±10° (code: Keras ``ImageDataGenerator``), from torch's seeded RNG
        (ours: off by default).
    self_label : the stage ``self_label`` after the clustering stage (ours,
        ``methods.self_labelling``): True, False or ``"auto"`` (images: True; feature
        vectors: False). The labels are then each code's nearest cluster mean c_k,
        ``cluster_centers_`` those means and ``transform`` the codes mu (``label_space_`` is
        ``"codes"``; else ``"embedding"``: f(mu)). Measured on default fits of mnist-test
        (one-off script, seed: ACC before → after): 1: 0.948 → 0.977; 0: 0.824 → 0.857 (k-means
        on f(mu) had split the 1s and merged 4 with 9, which no border moves undo); the same
        stage in f's space with Q's Student-t to the centres: 0.953 and 0.870; digits 0:
        0.827 → 0.934. On wine (feature vectors, 5 seeds, no augmentation) it gives 0.534
        against 0.943 (seed 1: 0.41, one relabelling moved a quarter of the labels).
        Used: ``self_label_``. label_smoothing: of its cross-entropy (0.2, ours, as DSCDAN).
    assign : how the embedding f(mu) is clustered: ``"kmeans"`` (paper summary; spec §E.10),
        ``"spectral"``: sklearn ``SpectralClustering`` with an RBF affinity (code), at most
        20,000 samples, ``"graph"`` (ours): spectral clustering of the 10-nearest-neighbour
        graph of all the embedded samples with self-tuning scales
        (``graph.spectral_clusters``; memory linear in n), kept when its partition has a
        lower normalised cut on that graph than k-means's and no cluster under half the mean
        size, else k-means's, or ``"auto"``: ``"graph"`` for images, ``"kmeans"`` for
        feature vectors. For both spectral ones the clusters' mean
        embeddings become ``cluster_centers_`` and ``labels_`` the nearest centre, so that
        ``predict`` reproduces ``labels_`` (a few samples may move from their spectral
        cluster). n_init: starts of the k-means (20, code). Measured on f(mu) of default fits
        (one-off scripts, ACC of k-means → "graph"): mnist-test seed 0 0.824 → 0.969 (the
        parametric t-SNE puts the 1s in two clumps, which k-means splits, merging 4 with 9;
        the graph keeps them one), seed 1 0.948 → 0.958, usps seeds 0-1 0.967 → 0.969 and
        0.968 → 0.971, fashion-test seed 0 0.605 → 0.617; 5, 10, 15 or 30 neighbours within
        0.003 of each other on mnist-test. On digits spectral clustering alone lost (seeds 0,
        1: 0.944 → 0.631, 0.937 → 0.791; the first partition cuts the graph more than
        k-means's, 0.18 against 0.004, the second holds an island of 12 digits), hence the
        two checks, which keep the graph's partition on both mnist-test fits (normalised cut
        0.049 against 0.129, 0.082 against 0.135; smallest clusters 0.88 and 0.85 of the
        mean size) and k-means's on both digits fits. On wine (5 seeds) 0.926 → 0.925:
        vectors keep k-means. Used: ``assign_``.
    spectral_gamma : the RBF's γ; None = 1 / the median squared distance between embedded
        samples (ours: the code's γ = 1 on our digits embedding, whose nearest neighbours lie
        ~20 apart in squared distance, gives an affinity of about the identity, and sklearn's
        eigensolver had not finished after several minutes). On digits spectral scored below
        k-means (ACC 0.78 / 0.82 against 0.83 / 0.92 on seeds 0 / 2).
    pretrain_epochs, cluster_epochs : stage lengths in epochs, or ``"auto"`` (ours, the CPU
        schedule: about 1,000 and 300 batches whatever the data size; 2,000 stage-2 batches
        of f alone, about 15 ms each, with ``p_kernel="graph"``).
        ``DCFAE.preset(schedule="paper")`` gives the code's 100 + 100 epochs and widths.
        self_label_epochs: the stage ``self_label``'s epochs, or ``"auto"`` (1,200 batches of
        256, at most 30 epochs, as DSCDAN).
    batch_size : 256 (code). lr: Adam learning rate of the autoencoder, the grouper and the
        discriminator (code: 1e-4; ours: 1e-3, below).
    random_state, device, precision, verbose : as every deep estimator (``DeepClusterer``).
        checkpoint_dir: where each stage's checkpoint is written (None = none);
        ``fit(X, resume=True)`` continues from them.

    CPU defaults (ours). On digits (8×8, the MLP nets, 1,000 + 300 batches) the code's values
    give ACC 0.26 (k-means on the pixels: 0.795 ACC, 0.745 NMI): the generator term at weight
    100 outweighs the 64-pixel reconstruction, and KL at weight 1 collapses the posterior (KL
    0.04 nats), so P is uniform. One value at a time from the defaults (seed 0, one thread,
    ACC/NMI; the defaults 0.919/0.871): w_kl 1 → 0.51/0.46; w_gan 100 → 0.33/0.33, 10 →
    0.76/0.78; dof_p 100 → 0.81/0.84; lr 1e-4 (no GAN) → 0.83/0.77 against 0.92/0.87 at 1e-3;
    detach_p False → 0.37 (mean of 4 seeds). dof_p = 10 widens P: the code's ν = 100 is a
    Gaussian of width 1 that on mu puts its mass on about 2 neighbours per point (99% within
    the class), and L_c then splits the classes into clumps. Seeds 0-3 on two threads (the
    CLI): ACC 0.827, 0.834, 0.924, 0.918 (NMI 0.830-0.872); the low ones split the 1s into
    two clusters and merge 9 with 3. No better mean ACC over seeds 0-3 with dof_p 5 or 30,
    w_cluster 30 or twice the stage-2 batches (one thread; defaults 0.925), nor with dof_q
    0.5 or 2, latent_dim 10, w_kl 0.2 or batch 512 (two threads; defaults 0.876).
    ``preset(schedule="paper")`` restores the code's values.

    Feature vectors (ours). ``"auto"`` gives w_kl = 0.1 and the graph P for images (the
    values above) and, for standardised vectors, the perplexity P and w_kl = 2.5e-4·D/d
    (``methods.deep.normalised_kl``: D features, d = ``latent_dim_``), which is 0.01 on
    20-topic tf-idf (D 2,000, d 50). There (seed 0; k-means 0.61 ACC): the image values
    0.36, and k-means on mu after pretraining 0.12 (the KL at 0.1 collapses the posterior:
    one cluster holds over 90 %), 0.79 with w_kl 0.01 and 0.81 with 0; the full method with
    w_kl 0.01 0.71 (Student-t P) and 0.84 (perplexity P at perplexity 10, whose width does
    not depend on the scale of the codes). A fixed 0.01 blurred the codes of small inputs
    (d = D); mean ACC, fixed 0.01 → normalised: iris 0.793 → 0.933 and breast cancer 0.946
    → 0.958 (seeds 0-2; k-means 0.887, 0.928), wine 0.924 → 0.943 and 200-d blobs 0.951 →
    0.948 (seeds 0-4). The values used are ``w_kl_`` and ``p_kernel_``.

    Attributes
    ----------
    labels_, cluster_centers_, history_, encoder_, decoder_, grouper_ : as the other deep
    methods (``history_`` has the terms rec, kl, gen, disc, cluster per epoch and stage).
    discriminator_ : the trained discriminator (None when ``w_gan=0``); not saved by ``save``.
    label_space_ : where ``cluster_centers_`` lie: ``"embedding"`` f(mu) or ``"codes"`` mu.
    """

    # ours: batches per stage of the "auto" (CPU) schedule, see the class docstring
    auto_batches: ClassVar[dict[str, int]] = {"pretrain": 1000, "cluster": 300,
                                              "self_label": 1200}
    # ours: stage 2 of p_kernel="graph", f alone on cached codes (about 15 ms a batch on
    # 2 cores); MNIST-test seed 0, the same codes: 0.929 ACC after 300, 0.961 after 1,000,
    # 0.968 after 2,000
    graph_batches: ClassVar[int] = 2000
    # ``DCFAE.preset(variant, schedule, **params)``: an ablation on a schedule
    variants: ClassVar[dict[str, dict[str, Any]]] = VARIANTS
    schedules: ClassVar[dict[str, dict[str, Any]]] = SCHEDULES
    _fitted_attrs: ClassVar[tuple[str, ...]] = (*DEEP_FITTED, "grouper_", "w_kl_", "p_kernel_",
                                                "latent_dim_", "mlp_hidden_", "disc_hidden_",
                                                "assign_", "self_label_", "label_space_")
    # "auto" parameters by input kind (class docstring, "Feature vectors")
    auto_params: ClassVar[dict[str, dict[str, Any]]] = {
        "unit": {"w_kl": 0.1, "p_kernel": "graph", "assign": "graph", **SIZES},  # ours
        "standard": {**SIZES, "w_kl": normalised_kl(2.5e-4),  # ours, after latent_dim
                     "p_kernel": "perplexity", "assign": "kmeans"},
    }

    def __init__(
        self,
        n_clusters: int = 10,
        *,
        latent_dim: int | str = "auto",
        architecture: str = "auto",
        scaling: str = "auto",
        widths: tuple[int, ...] = (16, 32, 64),
        disc_widths: tuple[int, ...] = (16, 32, 64),
        residual: bool = True,
        mlp_hidden: tuple[int, ...] | str = "auto",
        disc_hidden: tuple[int, ...] | str = "auto",
        grouper: bool = True,
        grouper_hidden: tuple[int, ...] = (2048, 512, 512),
        grouper_dropout: float = 0.0,
        w_rec: float = 1.0,
        w_kl: float | str = "auto",
        w_gan: float = 1.0,
        w_cluster: float = 10.0,
        label_noise: float = 0.05,
        p_kernel: str = "auto",
        perplexity: float = 30.0,
        batch_neighbors: int = 7,
        dof_p: float = 10.0,
        dof_q: float = 1.0,
        detach_p: bool = True,
        augment: bool = False,
        self_label: bool | str = "auto",
        label_smoothing: float = 0.2,
        assign: str = "auto",
        spectral_gamma: float | None = None,
        n_init: int = 20,
        pretrain_epochs: int | str = "auto",
        cluster_epochs: int | str = "auto",
        self_label_epochs: int | str = "auto",
        batch_size: int = 256,
        lr: float = 1e-3,
        random_state: int | None = 0,
        device: str = "auto",
        precision: str = "fp32",
        verbose: int = 1,
        checkpoint_dir: str | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.architecture = architecture
        self.scaling = scaling
        self.widths = widths
        self.disc_widths = disc_widths
        self.residual = residual
        self.mlp_hidden = mlp_hidden
        self.disc_hidden = disc_hidden
        self.grouper = grouper
        self.grouper_hidden = grouper_hidden
        self.grouper_dropout = grouper_dropout
        self.w_rec = w_rec
        self.w_kl = w_kl
        self.w_gan = w_gan
        self.w_cluster = w_cluster
        self.label_noise = label_noise
        self.p_kernel = p_kernel
        self.perplexity = perplexity
        self.batch_neighbors = batch_neighbors
        self.dof_p = dof_p
        self.dof_q = dof_q
        self.detach_p = detach_p
        self.augment = augment
        self.self_label = self_label
        self.label_smoothing = label_smoothing
        self.assign = assign
        self.spectral_gamma = spectral_gamma
        self.n_init = n_init
        self.pretrain_epochs = pretrain_epochs
        self.cluster_epochs = cluster_epochs
        self.self_label_epochs = self_label_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir

    # --- the method: loss terms of one batch, as in the author's train.py ----------------------
    def _terms(self, x: Tensor, cluster: bool) -> dict[str, Tensor]:
        enc = self.encoder_(x)
        mu, logvar = enc.mu, enc.logvar
        z = noisy_transform(mu, logvar)                          # z = mu + e^(logvar/2)·ε
        logits = self.decoder_.logits(z)
        x_rec = torch.sigmoid(logits) if self.scaling_ == "unit" else logits  # x̂ = g(z)
        t = {"rec": bce_reconstruction(x, logits) if self.scaling_ == "unit"  # pixel BCE, code
             else reconstruction_loss(x, x_rec)}  # ours: squared error on standardised vectors
        if self.w_kl_:
            t["kl"] = kl_normal(mu, logvar)                      # KL(q(z|x) || N(0, I)), code
        D = self.discriminator_
        if D is not None:                                        # the GAN half of the FAE
            fake = D(x_rec)
            t["gen"] = generator_loss(fake)                      # fool D: D(x̂) → 1, code
            t["disc"] = discriminator_loss(D(x), fake, self.label_noise)  # D's own loss, code
        if cluster:                                              # the DDNN f, paper + code
            h = gather(mu.detach() if self.detach_p else mu)  # torchrun: the global batch
            P = (perplexity_similarity(h, self.perplexity) if self.p_kernel_ == "perplexity"
                 else student_t_similarity(h, self.dof_p))      # P on mu: ours / code
            t["cluster"] = self._cluster_loss(mu, P)
        weights = {"rec": self.w_rec, "kl": self.w_kl_, "gen": self.w_gan,
                   "cluster": self.w_cluster}                    # "disc" trains D only
        t["loss"] = sum(weights[name] * term for name, term in t.items() if name in weights)
        return t

    def _cluster_loss(self, mu: Tensor, P: Tensor) -> Tensor:
        """L_c = -Σ P log Q, Q the Student-t similarities of f(mu) (code), over the global
        batch under torchrun (``deepclust._shards.gather``)."""
        return pairwise_cross_entropy(P, student_t_similarity(gather(self.grouper_(mu)),
                                                              self.dof_q))

    def _graph_terms(self, mu: Tensor, P: Tensor) -> dict[str, Tensor]:
        """``p_kernel="graph"``: the terms of f alone on cached codes, P the batch's block of
        the global P renormalised (parametric t-SNE)."""
        self.grouper_.train()
        cluster = self._cluster_loss(mu, P / P.sum().clamp_min(1e-12))
        return {"cluster": cluster, "loss": self.w_cluster * cluster}

    # --- fitting ---------------------------------------------------------------------------------
    def _fit(self, X, y, rng, *, resume):
        if self.assign == "spectral" and len(X) > SPECTRAL_MAX_SAMPLES:
            raise DeepclustError(
                f"assign='spectral' builds a dense {len(X)}×{len(X)} affinity; it is limited to "
                f"{SPECTRAL_MAX_SAMPLES} samples. Use assign='kmeans'."
            )
        X_t, watch = self._setup(X, y)
        self.label_space_ = "embedding" if self.grouper else "codes"
        if self.augment and self.p_kernel_ == "graph":  # "auto" is resolved by now
            raise DeepclustError("augment=True augments the images of the joint stage 2, and "
                                 "p_kernel='graph' trains f on cached codes instead; use "
                                 "p_kernel='student-t' (the code's) with augment.")
        self.discriminator_ = self._build_discriminator()
        if self.discriminator_ is not None:
            place_module(self.discriminator_, self.device_)
        pre = self._optimisers(cluster=False)
        self._stage("pretrain", self.pretrain_epochs, len(X), self.batch_size, rng, resume,
                    pre["stateful"], lambda idx: self._fae_terms(X_t[idx], False), watch,
                    embed=lambda z: z, others=pre["others"])
        if self.grouper and self.p_kernel_ == "graph":
            self._graph_stage(X_t, rng, resume, watch)
        elif self.grouper:
            clu = self._optimisers(cluster=True)
            self._stage("cluster", self.cluster_epochs, len(X), self.batch_size, rng, resume,
                        clu["stateful"], lambda idx: self._fae_terms(X_t[idx], True), watch,
                        embed=self.grouper_, others=clu["others"])
        self._finish_self_labelled(X_t, y, rng, resume, watch, n_init=self.n_init)

    def _graph_stage(self, X_t: Tensor, rng: np.random.Generator, resume: bool,
                     watch: Any) -> None:
        """The stage ``cluster`` of ``p_kernel="graph"``: t-SNE's P over the neighbour graph
        of the pretrained codes (3·perplexity neighbours, as scikit-learn's t-SNE), and f
        trained alone on those codes, fixed so that P stays theirs, on batches of anchors
        with their ``batch_neighbors`` nearest."""
        codes = self._encode(X_t)
        seed = int(rng.integers(2**31 - 1))
        with self._measured("graph"):
            graph = neighbor_graph(codes, math.ceil(3 * self.perplexity), random_state=seed)
            P = perplexity_affinity(graph, self.perplexity)
        opt = torch.optim.Adam(self.grouper_.parameters(), lr=self.lr)

        def batches(r: np.random.Generator) -> list[np.ndarray]:
            return neighbor_batches(graph, self.batch_size, self.batch_neighbors, r)

        self._stage("cluster", self.cluster_epochs, len(X_t), self.batch_size, rng, resume,
                    {"grouper": self.grouper_, "opt": opt},
                    lambda idx: self._graph_terms(codes[idx], batch_affinity(
                        P, batch_indices(idx)).to(codes.device)),  # torchrun: the global block
                    watch, embed=self.grouper_, batches=batches)

    def _auto_batches(self, stage: str) -> int:
        if stage == "cluster" and self.p_kernel_ == "graph":
            return self.graph_batches
        return super()._auto_batches(stage)

    def _optimisers(self, cluster: bool) -> dict[str, Any]:
        """Adam for the autoencoder (and the grouper in stage 2) and, on its own, for the
        discriminator; all of them in ``stateful`` for the checkpoints."""
        nets = {"encoder": self.encoder_, "decoder": self.decoder_}
        if cluster:
            nets["grouper"] = self.grouper_
        opt = torch.optim.Adam([p for m in nets.values() for p in m.parameters()], lr=self.lr)
        out: dict[str, Any] = {"opt": opt, "others": (), "stateful": {**nets, "opt": opt}}
        if self.discriminator_ is not None:
            disc_opt = torch.optim.Adam(self.discriminator_.parameters(), lr=self.lr)
            out["others"] = ((disc_opt, "disc"),)
            out["stateful"].update(discriminator=self.discriminator_, disc_opt=disc_opt)
        return out

    def _fae_terms(self, x: Tensor, cluster: bool) -> dict[str, Tensor]:
        self._set_mode(train=True)
        x = x.to(self.device_)
        if cluster and self.augment:  # code: augmentation in stage 2 only
            x = random_shift_rotate(x)
        return self._terms(x, cluster)

    def _fit_centres(self, embedding: np.ndarray, seed: int, n_init: int) -> np.ndarray:
        few = len(embedding) < self.n_clusters_ + 2  # the graph's K eigenvectors need K + 2
        if self.assign_ == "kmeans" or (self.assign_ == "graph" and few):
            return super()._fit_centres(embedding, seed, n_init)
        if self.assign_ == "graph":  # ours: the class docstring
            km = self._kmeans(embedding, seed, n_init)
            W = self_tuning_affinity(embedding, seed)
            labels = spectral_clusters(W, self.n_clusters_, n_init, seed)
            smallest = np.bincount(labels, minlength=self.n_clusters_).min()
            if (normalized_cut(W, labels) >= normalized_cut(W, km.labels_)
                    or smallest < len(embedding) / (2 * self.n_clusters_)):
                return km.cluster_centers_  # k-means's partition cuts the graph no worse
        else:
            gamma = self.spectral_gamma
            if gamma is None:  # ours: scale-free, see the class docstring
                sample = np.random.default_rng(seed).permutation(len(embedding))[:2000]
                gamma = 1 / max(float(np.median(pdist(embedding[sample], "sqeuclidean"))),
                                1e-12)
            labels = SpectralClustering(self.n_clusters_, gamma=gamma, n_init=n_init,
                                        random_state=seed).fit_predict(embedding)  # code: RBF
        return np.stack([embedding[labels == k].mean(0) for k in np.unique(labels)])

    # --- modules ---------------------------------------------------------------------------------
    def _conv(self) -> bool:
        shape = self.input_shape_
        return self.architecture == "conv" or (
            self.architecture == "auto" and len(shape) == 3 and min(shape[1:]) >= MIN_CONV_SIZE)

    def _build_modules(self) -> dict[str, nn.Module]:
        shape, d = self.input_shape_, self.latent_dim_
        if self._conv():
            widths = tuple(self.widths)
            encoder = ResEncoder(shape, d, widths, self.residual)
            decoder = ResDecoder(shape, d, widths, self.residual)
        else:
            encoder, decoder = (MLPEncoder(shape, d, tuple(self.mlp_hidden_)),
                                MLPDecoder(shape, d, tuple(self.mlp_hidden_)))
        modules = {"encoder_": encoder, "decoder_": decoder}
        if self.grouper:
            modules["grouper_"] = DenseGrouper(d, tuple(self.grouper_hidden),
                                               self.grouper_dropout)
        return modules

    def _build_discriminator(self) -> nn.Module | None:
        if not self.w_gan:
            return None
        if self._conv():
            return Discriminator(self.input_shape_, tuple(self.disc_widths), self.residual)
        return MLPDiscriminator(self.input_shape_, tuple(self.disc_hidden_))

    def _saved_attrs(self) -> list[str]:
        return [a for a in super()._saved_attrs() if a != "grouper_" or self.grouper]

    def _check_params(self) -> None:
        super()._check_params()
        self._check_choices({"architecture": ("auto", "conv", "mlp"),
                             "assign": ("auto", "kmeans", "graph", "spectral"),
                             "p_kernel": ("auto", "student-t", "perplexity", "graph")})
        image = len(self.input_shape_) == 3
        if self.architecture == "conv" and not image:
            raise DeepclustError(
                f"architecture='conv' needs (C, H, W) images, got samples of shape "
                f"{self.input_shape_}; use 'mlp' or 'auto'.")
        if self.augment and not image:
            raise DeepclustError("augment=True shifts and rotates images; these samples are "
                                 f"vectors of shape {self.input_shape_}.")
        self._check_bound(2, "batch_size")
        self._check_bound(1, "latent_dim", "n_init", "batch_neighbors")
        self._check_bound(0, "w_rec", "w_kl", "w_gan", "w_cluster", "label_noise",
                          "grouper_dropout")
        self._check_bound(1, "perplexity", strict=True)
        self._check_bound(0, "dof_p", "dof_q", "lr", strict=True)
        if self.spectral_gamma is not None:  # None: scale-free (class docstring)
            self._check_bound(0, "spectral_gamma", strict=True)
        for name in ("widths", "disc_widths", "mlp_hidden", "disc_hidden", "grouper_hidden"):
            sizes = getattr(self, name)
            if self._left_auto(name):
                continue
            if isinstance(sizes, str) or len(sizes) == 0 or min(sizes) < 1:
                raise DeepclustError(f"{name} must be a non-empty list of sizes >= 1, got "
                                     f"{sizes!r}.")

    # --- inference -------------------------------------------------------------------------------
    @torch.no_grad()
    def _embed(self, X_t: Tensor) -> np.ndarray:
        codes = self._encode(X_t)
        if self.label_space_ == "embedding":  # f(mu); "codes": mu (fae, self-labelled)
            self.grouper_.eval()
            codes = torch.cat([self.grouper_(c) for c in codes.split(4096)])
        return codes.cpu().numpy()

